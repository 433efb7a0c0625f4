import type { FieldPacket, ResultSetHeader } from "mysql2";
import mysql from "mysql2";
import type mysqlPromise from "mysql2/promise";
import type { Value } from "../gen/berth/v1/values_pb.js";
import {
  type ConnectParams,
  type DriverSession,
  type IsolationLevelId,
  type QueryChunk,
  type QueryEvent,
  type QueryOptions,
  takeChunk,
} from "./driver.js";
import { mysqlConverter, mysqlNullable, mysqlTypeName } from "./mysql-values.js";
import { approximateSize, column, row, valueToDriverParam } from "./values.js";

const ISOLATION_SQL: Record<IsolationLevelId, string> = {
  read_uncommitted: "READ UNCOMMITTED",
  read_committed: "READ COMMITTED",
  repeatable_read: "REPEATABLE READ",
  serializable: "SERIALIZABLE",
};

/** Rows mysql2 buffers in its stream before pausing the socket. */
const HIGH_WATER_ROWS = 1000;
/** Batches waiting for the consumer before the stream is paused. */
const QUEUE_HIGH_WATER = 4;

export class MysqlSession implements DriverSession {
  readonly #conn: mysqlPromise.Connection;
  readonly #params: ConnectParams;
  #healthy = true;
  /** The result stream being read, so that a dying connection can fail it instead of leaving it open. */
  #active: { destroy(err?: Error): void } | undefined;

  constructor(conn: mysqlPromise.Connection, params: ConnectParams) {
    this.#conn = conn;
    this.#params = params;
    const broken = (err?: Error) => {
      this.#healthy = false;
      this.#active?.destroy(
        Object.assign(err ?? new Error("Connection lost: the server closed the connection"), {
          code: (err as { code?: string })?.code ?? "PROTOCOL_CONNECTION_LOST",
        }),
      );
    };
    conn.on("error", broken);
    conn.on("end", () => broken());
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  async serverVersion(): Promise<string> {
    const [rows] = await this.#conn.query<mysqlPromise.RowDataPacket[]>("SELECT VERSION() AS v");
    const v = String(rows[0]?.v ?? "unknown");
    return v.includes("MariaDB") ? `MariaDB ${v}` : `MySQL ${v}`;
  }

  async *query(sql: string, params: readonly Value[], options: QueryOptions): AsyncIterable<QueryChunk> {
    // Server-side prepared statement (binary protocol): parameters are bound, never interpolated.
    const raw = (this.#conn as unknown as { connection: mysql.Connection }).connection;
    const command = raw.execute({ sql, rowsAsArray: true }, params.map(valueToDriverParam) as never[]);
    const stream = command.stream({ highWaterMark: HIGH_WATER_ROWS });
    this.#active = stream;
    // Rows are converted and batched as they arrive (no await per row); when the consumer lags by
    // QUEUE_HIGH_WATER batches the stream pauses, which pauses the socket, which holds the server.
    const queue: QueryEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: unknown;
    let converters: ((x: unknown) => Value)[] = [];
    let header: ResultSetHeader | undefined;
    let batch: ReturnType<typeof row>[] = [];
    let bytes = 0;
    let returned = 0n;
    let truncated = false;
    const push = (e: QueryEvent) => {
      queue.push(e);
      if (queue.length >= QUEUE_HIGH_WATER) stream.pause();
      const w = wake;
      wake = undefined;
      w?.();
    };
    const flush = () => {
      if (batch.length === 0) return;
      push({ kind: "rows", rows: batch });
      batch = [];
      bytes = 0;
    };
    stream.on("fields", (f: FieldPacket[] | undefined) => {
      // Statements without a result set (SET, INSERT) announce no fields.
      if (!f || f.length === 0) return;
      converters = f.map(mysqlConverter);
      push({ kind: "columns", columns: f.map((x) => column(x.name, mysqlTypeName(x), mysqlNullable(x))) });
    });
    stream.on("data", (item: unknown[] | ResultSetHeader) => {
      if (!Array.isArray(item)) {
        header = item;
        return;
      }
      // Past max_rows the rest is read and dropped: MySQL cannot stop a result without killing it.
      if (options.maxRows > 0 && returned >= BigInt(options.maxRows)) {
        truncated = true;
        return;
      }
      const values = item.map((x, i) => converters[i]!(x));
      batch.push(row(values));
      returned++;
      for (const v of values) bytes += approximateSize(v);
      if (bytes >= options.batchBytes) flush();
    });
    const end = (err?: unknown) => {
      if (finished) return;
      finished = true;
      failure = err;
      if (!err) {
        flush();
        queue.push({
          kind: "complete",
          completion: {
            rowsAffected: BigInt(header?.affectedRows ?? 0),
            commandTag: firstKeyword(sql),
            truncated,
            rowsReturned: returned,
          },
        });
      }
      const w = wake;
      wake = undefined;
      w?.();
    };
    stream.on("end", () => end());
    stream.on("error", (err: unknown) => end(err));
    try {
      for (;;) {
        const next = takeChunk(queue);
        if (next) {
          if (stream.isPaused() && queue.length === 0) stream.resume();
          yield next;
          continue;
        }
        if (finished) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      // Stopping early destroys the stream; mysql2 then resumes the socket and reads the rest of the
      // result without emitting it, so the connection stays in step for the next command.
      if (!stream.destroyed) stream.destroy();
      this.#active = undefined;
    }
  }

  /** KILL QUERY from a separate connection: MySQL has no out-of-band cancel. */
  async cancel(): Promise<void> {
    const threadId = this.#conn.threadId;
    const p = this.#params;
    const killer = mysql.createConnection({
      host: p.host,
      port: p.port,
      user: p.credentials.username,
      password: p.credentials.password,
      connectTimeout: 2000,
      ...(p.tls.options ? { ssl: p.tls.options as mysql.SslOptions } : {}),
    });
    killer.on("error", () => {});
    await new Promise<void>((resolve) => {
      killer.query(`KILL QUERY ${Number(threadId)}`, () => {
        killer.destroy();
        resolve();
      });
    });
  }

  async begin(isolation: IsolationLevelId | undefined, readOnly: boolean): Promise<void> {
    if (isolation) await this.#conn.query(`SET TRANSACTION ISOLATION LEVEL ${ISOLATION_SQL[isolation]}`);
    await this.#conn.query(readOnly ? "START TRANSACTION READ ONLY" : "START TRANSACTION");
  }

  async commit(): Promise<void> {
    await this.#conn.query("COMMIT");
  }

  async rollback(): Promise<void> {
    await this.#conn.query("ROLLBACK");
  }

  /** COM_RESET_CONNECTION: rolls back and clears variables, temporary tables and prepared statements. */
  async reset(): Promise<void> {
    const raw = (
      this.#conn as unknown as { connection: mysql.Connection & { reset(cb: (err: unknown) => void): void } }
    ).connection;
    await new Promise<void>((resolve, reject) => raw.reset((err) => (err ? reject(err) : resolve())));
    // mysql2 caches prepared statements per connection; the server just dropped them.
    (raw as unknown as { _statements?: { clear(): void } })._statements?.clear();
  }

  async ping(): Promise<void> {
    await this.#conn.ping();
  }

  async close(): Promise<void> {
    this.#healthy = false;
    await this.#conn.end();
  }

  destroy(): void {
    this.#healthy = false;
    this.#conn.destroy();
  }
}

function firstKeyword(sql: string): string {
  return /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "";
}
