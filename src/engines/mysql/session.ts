import type { FieldPacket, ResultSetHeader } from "mysql2";
import mysql from "mysql2";
import type mysqlPromise from "mysql2/promise";
import type {
  ConnectParams,
  DriverSession,
  IsolationLevelId,
  QueryChunk,
  QueryOptions,
} from "../../drivers/driver.js";
import { firstKeyword, ResultQueue } from "../../drivers/result-queue.js";
import { column } from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";
import { mysqlEndpoint } from "./endpoint.js";
import { mysqlConverter, mysqlNullable, mysqlParam, mysqlTypeName } from "./values.js";

const ISOLATION_SQL: Record<IsolationLevelId, string> = {
  read_uncommitted: "READ UNCOMMITTED",
  read_committed: "READ COMMITTED",
  repeatable_read: "REPEATABLE READ",
  serializable: "SERIALIZABLE",
};

/** Rows mysql2 buffers in its stream before pausing the socket. */
const HIGH_WATER_ROWS = 1000;

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
    const command = raw.execute({ sql, rowsAsArray: true }, params.map(mysqlParam) as never[]);
    const stream = command.stream({ highWaterMark: HIGH_WATER_ROWS });
    this.#active = stream;
    const result = new ResultQueue(stream, options);
    let converters: ((x: unknown) => Value)[] = [];
    let header: ResultSetHeader | undefined;
    stream.on("fields", (f: FieldPacket[] | undefined) => {
      // Statements without a result set (SET, INSERT) announce no fields.
      if (!f || f.length === 0) return;
      converters = f.map(mysqlConverter);
      result.columns(f.map((x) => column(x.name, mysqlTypeName(x), mysqlNullable(x))));
    });
    stream.on("data", (item: unknown[] | ResultSetHeader) => {
      if (!Array.isArray(item)) {
        header = item;
        return;
      }
      // Past max_rows the rest is read and dropped: MySQL cannot stop a result without killing it.
      if (result.truncated) return;
      result.row(item.map((x, i) => converters[i]!(x)));
    });
    stream.on("end", () =>
      result.end(undefined, {
        rowsAffected: BigInt(header?.affectedRows ?? 0),
        commandTag: firstKeyword(sql),
      }),
    );
    stream.on("error", (err: unknown) => result.end(err));
    try {
      yield* result.chunks();
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
      // The same checked address as the session (see mysqlEndpoint).
      ...mysqlEndpoint(p),
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
