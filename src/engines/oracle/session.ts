import oracledb from "oracledb";
import type { DriverSession, IsolationLevelId, QueryChunk, QueryOptions } from "../../drivers/driver.js";
import { firstKeyword } from "../../drivers/result-queue.js";
import { approximateSize, column, row } from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";
import { TABLE } from "./table.js";
import {
  fetchTypeHandler,
  type OracleColumn,
  oracleConverter,
  oracleParam,
  oracleTypeName,
} from "./values.js";

/** Rows asked of the server per round trip; the consumer's pace decides when the next is asked. */
const FETCH_ROWS = 500;

const ISOLATION: Partial<Record<IsolationLevelId, string>> = {
  read_committed: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
  serializable: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
};

function unsupported(message: string): Error {
  return Object.assign(new Error(message), { code: "EUNSUPPORTED" });
}

/**
 * One oracledb thin connection as a Berth session. Statements bind by position (:1, :2, ...).
 * Outside a transaction every statement commits on success (autoCommit), as on the other engines.
 */
export class OracleSession implements DriverSession {
  readonly #conn: oracledb.Connection;
  #inTransaction = false;
  #healthy = true;

  constructor(conn: oracledb.Connection) {
    this.#conn = conn;
  }

  get healthy(): boolean {
    return this.#healthy && this.#conn.isHealthy();
  }

  async serverVersion(): Promise<string> {
    return `Oracle ${this.#conn.oracleServerVersionString ?? "unknown"}`;
  }

  async *query(sql: string, params: readonly Value[], options: QueryOptions): AsyncIterable<QueryChunk> {
    const result = await this.#conn.execute(sql, params.map(oracleParam) as oracledb.BindParameters, {
      resultSet: true,
      outFormat: oracledb.OUT_FORMAT_ARRAY,
      fetchTypeHandler: fetchTypeHandler as oracledb.ExecuteOptions["fetchTypeHandler"],
      fetchArraySize: FETCH_ROWS,
      autoCommit: !this.#inTransaction,
    });
    const resultSet = result.resultSet;
    if (!resultSet) {
      yield {
        completion: {
          rowsAffected: BigInt(result.rowsAffected ?? 0),
          commandTag: firstKeyword(sql),
          truncated: false,
          rowsReturned: 0n,
        },
      };
      return;
    }
    const meta = (resultSet.metaData ?? []) as OracleColumn[];
    const converters = meta.map(oracleConverter);
    let returned = 0n;
    let truncated = false;
    try {
      yield { columns: meta.map((c) => column(c.name, oracleTypeName(c), c.nullable)) };
      for (;;) {
        const want =
          options.maxRows > 0 ? Math.min(FETCH_ROWS, options.maxRows - Number(returned)) : FETCH_ROWS;
        if (want <= 0) {
          // Whether more rows exist is only known by asking for one.
          truncated = (await resultSet.getRows(1)).length > 0;
          break;
        }
        const rows = (await resultSet.getRows(want)) as unknown[][];
        if (rows.length === 0) break;
        let batch: ReturnType<typeof row>[] = [];
        let bytes = 0;
        for (const raw of rows) {
          const values = raw.map((x, i) => converters[i]!(x));
          batch.push(row(values));
          for (const v of values) bytes += approximateSize(v);
          if (bytes >= options.batchBytes) {
            yield { rows: batch };
            batch = [];
            bytes = 0;
          }
        }
        returned += BigInt(rows.length);
        if (batch.length > 0) yield { rows: batch };
        if (rows.length < want) break;
      }
    } finally {
      await resultSet.close().catch(() => {});
    }
    yield {
      completion: { rowsAffected: 0n, commandTag: firstKeyword(sql), truncated, rowsReturned: returned },
    };
  }

  /** A break on the connection (out of band where the server supports it). */
  async cancel(): Promise<void> {
    await this.#conn.break();
  }

  async begin(isolation: IsolationLevelId | undefined, readOnly: boolean): Promise<void> {
    if (readOnly && isolation && isolation !== "serializable")
      throw unsupported(
        "Oracle read-only transactions are serializable; ask for no isolation level or serializable",
      );
    let statement: string | undefined;
    if (readOnly) statement = "SET TRANSACTION READ ONLY";
    else if (isolation) {
      statement = ISOLATION[isolation];
      if (!statement)
        throw unsupported(
          `Oracle has no ${isolation.replace("_", " ")} isolation: use read_committed or serializable`,
        );
    }
    // Oracle opens a transaction with the first statement; SET TRANSACTION must be that statement.
    if (statement) await this.#conn.execute(statement);
    this.#inTransaction = true;
  }

  async commit(): Promise<void> {
    await this.#conn.commit();
    this.#inTransaction = false;
  }

  async rollback(): Promise<void> {
    await this.#conn.rollback();
    this.#inTransaction = false;
  }

  /** Rolls back and reinitialises PL/SQL package state (what DBMS_SESSION offers a pooled session). */
  async reset(): Promise<void> {
    await this.#conn.rollback();
    this.#inTransaction = false;
    await this.#conn.execute("BEGIN DBMS_SESSION.RESET_PACKAGE; END;");
  }

  async ping(): Promise<void> {
    await this.#conn.execute(TABLE.probeQuery);
  }

  async close(): Promise<void> {
    this.#healthy = false;
    await this.#conn.close();
  }

  destroy(): void {
    this.#healthy = false;
    // oracledb has no synchronous teardown: close in the background; the session is already
    // marked unusable, so nothing else will be sent on it.
    void this.#conn.close().catch(() => {});
  }
}
