import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from "kysely";
import pg from "pg";
import { migrateToLatest } from "./migrations.js";
import { PostgresTextPlugin } from "./postgres-text.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

export interface PostgresStoreOptions {
  /** Sessions the store's pool may hold on the server (default 10). */
  maxConnections?: number;
  /** A statement not answered in this long fails (default STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
  /**
   * An idle pooled session that failed (the server restarted, the network dropped it). The pool
   * replaces it; without a listener pg would throw it out of the event loop.
   */
  onIdleError?: (err: Error) => void;
}

/** /readyz gives each check 1 s: the probe answers before that, whatever the network does. */
export const STORE_PING_TIMEOUT_MS = 800;
/** Waiting for a session (a new connection, or a free one) fails after this instead of hanging. */
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * A statement whose answer does not come in this long fails, and its session is thrown away: a
 * store whose network swallows packets must not hold a call, or Berth's shutdown, for ever (TCP
 * would take many minutes to notice). Migrations, which may build indexes, are not bounded.
 */
export const STATEMENT_TIMEOUT_MS = 30_000;
const IDLE_TIMEOUT_MS = 30_000;
/** Instances starting together wait this long for the one that migrates before giving up. */
const MIGRATION_LOCK_TIMEOUT_MS = 300_000;
/** pg_advisory_lock's key for Berth's migrations ("berth-mi" in ASCII); Kysely's own lock uses another. */
const MIGRATION_LOCK_KEY = "7090478427880614249";

/**
 * The store's own type parsing, not pg's global one (which the PostgreSQL engine's sessions share):
 * bigint (count(*)) as a number. Counts stay far below 2^53; every table column is `integer`.
 */
const storeTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Where the store is, for messages: host, port and database, never the user or password. */
export function describeStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    // A Unix socket directory comes as ?host=/path.
    return `${u.hostname || u.searchParams.get("host") || ""}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * The shared store: a PostgreSQL database named by a `postgres://` URL. pg parses the URL, so its
 * `sslmode`, `sslrootcert`, `sslcert` and `sslkey` apply (README, "Store"). Migrations run under an
 * advisory lock, so that instances starting together migrate once and the others wait for it.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const poolConfig: pg.PoolConfig = {
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    keepAlive: true,
    application_name: "berth",
    types: storeTypes,
  };
  const pool = new pg.Pool(poolConfig);
  pool.on("error", (err) => options.onIdleError?.(err));
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: boundedPool(pool, options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS),
    }),
    plugins: [new PostgresTextPlugin()],
  });
  try {
    await migrateLocked(poolConfig, pool);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw new Error(`The store at ${describeStoreUrl(url)} could not be opened: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    db,
    ping: () => pingPool(pool, STORE_PING_TIMEOUT_MS),
    // PostgreSQL's WAL and vacuum are the server's business: nothing to compact from here.
    async compactJournal() {},
    async close() {
      await db.destroy();
    },
  };
}

/**
 * Holds Berth's advisory lock on a session of its own for the whole run, so that a second instance
 * waits (and then finds nothing to do) even while the first is still creating Kysely's tables. A
 * holder that dies releases it with its session.
 */
async function migrateLocked(config: pg.PoolConfig, pool: pg.Pool): Promise<void> {
  const lock = new pg.Client({ ...config, application_name: "berth migrations" });
  lock.on("error", () => {}); // a dropped session surfaces as the failed query below
  await lock.connect();
  try {
    await lock.query(`set lock_timeout = ${MIGRATION_LOCK_TIMEOUT_MS}`);
    await lock.query("select pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]).catch((err) => {
      throw (err as { code?: string }).code === "55P03"
        ? new Error(`another instance held the migration lock for over ${MIGRATION_LOCK_TIMEOUT_MS / 1000} s`)
        : err;
    });
    // The store's pool without the statement bound; destroying this Kysely leaves the pool open.
    const unbounded = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: { connect: () => pool.connect(), end: async () => {} } }),
    });
    try {
      await migrateToLatest(unbounded);
    } finally {
      await unbounded.destroy();
    }
    await lock.query("select pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
  } finally {
    await lock.end().catch(() => {});
  }
}

/**
 * The pool as Kysely sees it, with every statement bounded by `timeoutMs` (pg's client-side read
 * timeout). A session whose statement timed out still has it outstanding: it fails what else
 * is sent on it at once, and is destroyed rather than returned to the pool.
 */
function boundedPool(pool: pg.Pool, timeoutMs: number): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let stuck: Error | undefined;
      const query = async (text: string, values: readonly unknown[]) => {
        if (stuck) throw stuck;
        try {
          // query_timeout is pg's per-statement read timeout (missing from @types/pg's QueryConfig).
          const config = { text, values: [...values], query_timeout: timeoutMs };
          return await client.query(config as pg.QueryConfig);
        } catch (err) {
          if ((err as Error).message !== "Query read timeout") throw err;
          stuck = new Error(`the store did not answer within ${timeoutMs} ms`, { cause: err });
          throw stuck;
        }
      };
      return {
        query: query as unknown as PostgresPoolClient["query"],
        release: (destroy?: boolean) => client.release(destroy || stuck !== undefined),
      };
    },
    end: () => pool.end(),
  };
}

/**
 * `select 1` on a pooled session within `timeoutMs`. A session that does not answer in time is
 * thrown away rather than returned to the pool (its network may be gone); one that arrives late is
 * given back unused.
 */
async function pingPool(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const connecting = pool.connect();
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      connecting.then(
        (c) => c.release(),
        () => {},
      );
      reject(new Error(`the store did not give a session within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  let client: pg.PoolClient;
  try {
    client = await Promise.race([connecting, late]);
  } finally {
    clearTimeout(timer);
  }
  const left = Math.max(1, timeoutMs - (Date.now() - started));
  try {
    await client.query({ text: "select 1", query_timeout: left } as pg.QueryConfig);
    client.release();
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
}
