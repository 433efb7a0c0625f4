import { type Connection, ISOLATION_LEVEL, Request } from "tedious";
import type { DriverSession, IsolationLevelId, QueryChunk, QueryOptions } from "../../drivers/driver.js";
import { firstKeyword, ResultQueue } from "../../drivers/result-queue.js";
import { column } from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";
import { TABLE } from "./table.js";
import {
  type SqlServerColumn,
  sqlServerConverter,
  sqlServerNullable,
  sqlServerParam,
  sqlServerTypeName,
} from "./values.js";

/** How long a cancelled request may take to be acknowledged before the session is dropped. */
const CANCEL_ACK_MS = 5_000;

const ISOLATION: Record<IsolationLevelId, number | undefined> = {
  read_uncommitted: ISOLATION_LEVEL.READ_UNCOMMITTED,
  read_committed: ISOLATION_LEVEL.READ_COMMITTED,
  repeatable_read: ISOLATION_LEVEL.REPEATABLE_READ,
  serializable: ISOLATION_LEVEL.SERIALIZABLE,
};

/** One tedious connection as a Berth session. Statements bind parameters as @p1, @p2, ... */
export class SqlServerSession implements DriverSession {
  readonly #conn: Connection;
  #healthy = true;
  /** The request being read, so that a dying connection can end its iterator. */
  #active: ((err: Error) => void) | undefined;

  constructor(conn: Connection) {
    this.#conn = conn;
    const broken = (err?: Error) => {
      this.#healthy = false;
      this.#active?.(
        Object.assign(err ?? new Error("Connection lost: the server closed the connection"), {
          code: (err as { code?: string })?.code ?? "ESOCKET",
        }),
      );
    };
    conn.on("error", broken);
    conn.on("end", () => broken());
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Runs a statement to completion and returns its first row's values, for small internal queries. */
  async #scalarRow(sql: string): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      let first: unknown[] | undefined;
      const request = new Request(sql, (err) => (err ? reject(err) : resolve(first ?? [])));
      request.on("row", (columns: { value: unknown }[]) => {
        first ??= columns.map((c) => c.value);
      });
      this.#conn.execSql(request);
    });
  }

  async serverVersion(): Promise<string> {
    const [version, edition] = await this.#scalarRow(
      "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), CAST(SERVERPROPERTY('Edition') AS nvarchar(128))",
    );
    return `SQL Server ${String(version)} (${String(edition)})`;
  }

  async *query(sql: string, params: readonly Value[], options: QueryOptions): AsyncIterable<QueryChunk> {
    let converters: ((x: unknown) => Value)[] = [];
    const request = new Request(sql, (err, rowCount) => {
      const outcome = {
        rowsAffected: BigInt(result.returned > 0n ? 0 : (rowCount ?? 0)),
        commandTag: firstKeyword(sql),
      };
      // Past max_rows the statement was cancelled with an attention: that is the normal end.
      if (result.truncated && (err as { code?: string } | undefined)?.code === "ECANCEL")
        result.end(undefined, outcome);
      else result.end(err ?? undefined, outcome);
    });
    const result = new ResultQueue(request, options);
    params.forEach((p, i) => {
      const { type, value } = sqlServerParam(p);
      request.addParameter(`p${i + 1}`, type, value);
    });
    request.on("columnMetadata", (metadata) => {
      const columns = metadata as unknown as SqlServerColumn[];
      // A batch of several statements announces each result; Berth streams the first.
      if (converters.length > 0) return;
      converters = columns.map(sqlServerConverter);
      result.columns(columns.map((c) => column(c.colName, sqlServerTypeName(c), sqlServerNullable(c))));
    });
    request.on("row", (columns: { value: unknown }[]) => {
      if (result.truncated) return;
      const values = columns.map((c, i) => (converters[i] ?? sqlServerConverter(UNKNOWN))(c.value));
      // An attention stops the server sending the rest, unlike MySQL which must read it all.
      if (!result.row(values)) this.#conn.cancel();
    });
    this.#active = (err) => result.end(err);
    this.#conn.execSql(request);
    try {
      yield* result.chunks();
    } finally {
      if (!result.finished) {
        // The consumer stopped early: cancel the rest so the connection is ready for the next
        // request. A server that does not acknowledge the attention in time costs the session.
        result.release();
        this.#conn.cancel();
        const deadline = Date.now() + CANCEL_ACK_MS;
        await new Promise<void>((resolve) => {
          const poll = () => (result.finished || Date.now() > deadline ? resolve() : setTimeout(poll, 5));
          poll();
        });
        if (!result.finished) this.destroy();
      }
      this.#active = undefined;
    }
  }

  /** An attention packet on the same connection: TDS cancels in band. */
  async cancel(): Promise<void> {
    this.#conn.cancel();
  }

  begin(isolation: IsolationLevelId | undefined, readOnly: boolean): Promise<void> {
    if (readOnly) {
      return Promise.reject(
        Object.assign(
          new Error(
            "SQL Server has no read-only transactions: use a login with read-only permissions, or an ApplicationIntent=ReadOnly replica",
          ),
          { code: "EUNSUPPORTED" },
        ),
      );
    }
    return new Promise((resolve, reject) =>
      this.#conn.beginTransaction(
        (err) => (err ? reject(err) : resolve()),
        "",
        isolation ? ISOLATION[isolation] : ISOLATION_LEVEL.NO_CHANGE,
      ),
    );
  }

  commit(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#conn.commitTransaction((err) => (err ? reject(err) : resolve())),
    );
  }

  rollback(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#conn.rollbackTransaction((err) => (err ? reject(err) : resolve())),
    );
  }

  /**
   * sp_reset_connection semantics: tedious flags the next request with RESETCONNECTION, and the
   * server rolls back, drops temporary tables and restores SET options and the database.
   */
  reset(): Promise<void> {
    return new Promise((resolve, reject) => this.#conn.reset((err) => (err ? reject(err) : resolve())));
  }

  async ping(): Promise<void> {
    await this.#scalarRow(TABLE.probeQuery);
  }

  close(): Promise<void> {
    this.#healthy = false;
    return new Promise((resolve) => {
      if ((this.#conn as unknown as { closed?: boolean }).closed) return resolve();
      this.#conn.once("end", () => resolve());
      this.#conn.close();
    });
  }

  destroy(): void {
    this.#healthy = false;
    this.#conn.close();
  }
}

const UNKNOWN: SqlServerColumn = { colName: "", type: { name: "NVarChar" } };
