import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

export interface PostgresStoreOptions {
  /** Sessions the store's pool may hold on the server (default 10). */
  maxConnections?: number;
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
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
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
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateLocked(poolConfig, db);
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
async function migrateLocked(config: pg.PoolConfig, db: Kysely<Database>): Promise<void> {
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
    await migrateToLatest(db as Kysely<unknown>);
    await lock.query("select pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
  } finally {
    await lock.end().catch(() => {});
  }
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
