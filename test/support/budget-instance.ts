import pg from "pg";
import { Credentials, NO_ENGINE_OPTIONS, POOL_DEFAULTS } from "../../src/connections/settings.js";
import { driverFor } from "../../src/engines/index.js";
import { BerthError } from "../../src/errors/berth-error.js";
import { RedisSessionBudget } from "../../src/limits/connection-budget.js";
import { PoolManager } from "../../src/pools/pool-manager.js";
import { LOCAL } from "./services.js";

/** What one Berth instance of the budget tests is given: the same connection on every instance. */
export interface BudgetInstanceOptions {
  redisUrl: string;
  /** Key prefix of the budgets in Redis: one per test run. */
  prefix: string;
  ttlMs: number;
  connectionId: string;
  /** The PostgreSQL role the connection signs in as (its sessions are counted by it). */
  role: string;
  maxPoolSize: number;
  acquireTimeoutMs: number;
}

export type CallOutcome =
  | { ok: true; ms: number }
  | { ok: false; ms: number; kind: string; reason: string; message: string };

/**
 * The data plane of one Berth instance as far as the budget goes: a PoolManager over the local
 * PostgreSQL with the connection budget in Redis, as core.ts wires it with BERTH_REDIS_URL.
 */
export function startBudgetInstance(o: BudgetInstanceOptions) {
  const budget = new RedisSessionBudget({
    redisUrl: o.redisUrl,
    ttlMs: o.ttlMs,
    commandTimeoutMs: 300,
    prefix: o.prefix,
  });
  const pools = new PoolManager({
    load: async () => ({
      settings: {
        name: "budget",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        sslMode: "disable",
        caCertificate: "",
        clientCertificate: "",
        tlsServerName: "",
        engineOptions: NO_ENGINE_OPTIONS,
        pool: {
          ...POOL_DEFAULTS,
          maxPoolSize: o.maxPoolSize,
          acquireTimeoutMs: o.acquireTimeoutMs,
        },
        replicas: [],
        description: "",
      },
      credentials: new Credentials(o.role, "", undefined),
    }),
    drivers: driverFor,
    connectTimeoutMs: 5_000,
    budget,
  });
  return {
    pools,
    budget,
    /** acquire → `sql` → release, as a broker call does; how it went and how long it took. */
    async call(sql = "select pg_sleep(0.05)"): Promise<CallOutcome> {
      const started = performance.now();
      try {
        const { pool, pooled } = await pools.acquire(o.connectionId);
        try {
          for await (const _ of pooled.session.query(sql, [], { maxRows: 0, batchBytes: 65_536 })) {
            // Rows are not looked at: the session being busy is the point.
          }
        } finally {
          await pool.release(pooled, { reset: false });
        }
        return { ok: true, ms: performance.now() - started };
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        return {
          ok: false,
          ms: performance.now() - started,
          kind: err.kind,
          reason: String(err.details.reason ?? ""),
          message: err.message,
        };
      }
    },
    async close(): Promise<void> {
      await pools.closeAll(5_000);
      await budget.close();
    },
  };
}

export type BudgetInstance = ReturnType<typeof startBudgetInstance>;

async function superuser(): Promise<pg.Client> {
  const c = new pg.Client({
    host: LOCAL.postgres.host,
    port: LOCAL.postgres.port,
    user: LOCAL.postgres.user,
    database: LOCAL.postgres.database,
  });
  await c.connect();
  return c;
}

/** A role of its own for a test, so that its sessions can be told apart in pg_stat_activity. */
export async function createRole(role: string): Promise<void> {
  const c = await superuser();
  try {
    await c.query(`CREATE ROLE "${role}" LOGIN`);
  } finally {
    await c.end();
  }
}

export async function dropRole(role: string): Promise<void> {
  const c = await superuser();
  try {
    await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role]);
    await c.query(`DROP ROLE IF EXISTS "${role}"`);
  } finally {
    await c.end();
  }
}

/**
 * Counts the sessions `role` holds on the server, as the server sees them (pg_stat_activity), every
 * `everyMs` until stopped: the most seen, and every sample with its time.
 */
export async function watchSessions(role: string, everyMs = 20) {
  const c = await superuser();
  const samples: { at: number; n: number }[] = [];
  let most = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await c.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1",
        [role],
      );
      const n = rows[0]!.n;
      samples.push({ at: performance.now(), n });
      most = Math.max(most, n);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    get most() {
      return most;
    },
    /** The latest count. */
    get now() {
      return samples.at(-1)?.n ?? 0;
    },
    async stop(): Promise<void> {
      stopped = true;
      await loop;
      await c.end();
    },
  };
}
