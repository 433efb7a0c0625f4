import { afterEach, describe, expect, it } from "vitest";
import {
  type ConnectionSettings,
  Credentials,
  NO_ENGINE_OPTIONS,
  POOL_DEFAULTS,
} from "../../src/connections/settings.js";
import type { Driver, DriverSession } from "../../src/drivers/driver.js";
import { ConnectionPool } from "../../src/pools/pool.js";
import { PoolManager } from "../../src/pools/pool-manager.js";

/** A driver whose sessions open after `openMs` and do nothing: the pool's own logic under test. */
function fakeDriver(openMs: number): Driver & { opened: number } {
  const driver = {
    engine: "postgresql" as const,
    opened: 0,
    negotiateTls: async () => "not_offered" as const,
    async connect(): Promise<DriverSession> {
      await new Promise((r) => setTimeout(r, openMs));
      driver.opened++;
      return {
        healthy: true,
        serverVersion: async () => "fake",
        query: async function* () {},
        cancel: async () => {},
        begin: async () => {},
        commit: async () => {},
        rollback: async () => {},
        reset: async () => {},
        ping: async () => {},
        close: async () => {},
        destroy: () => {},
      };
    },
    describeError: (err: unknown) => ({ reason: "unknown", code: "", message: String(err) }),
    isConnectionError: () => false,
  };
  return driver;
}

const settings = (pool: Partial<ConnectionSettings["pool"]>): ConnectionSettings => ({
  name: "fake",
  type: "postgresql",
  server: "db",
  port: 5432,
  database: "d",
  sslMode: "disable",
  caCertificate: "",
  clientCertificate: "",
  tlsServerName: "",
  engineOptions: NO_ENGINE_OPTIONS,
  pool: { ...POOL_DEFAULTS, ...pool },
  replicas: [],
  description: "",
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe("the pool", () => {
  it("hands sessions opened to reach minPoolSize to callers that queued meanwhile", async () => {
    const pool = new ConnectionPool({
      connectionId: "c",
      settings: settings({ minPoolSize: 2, maxPoolSize: 2, acquireTimeoutMs: 1_000 }),
      credentials: new Credentials("u", "p", undefined),
      driver: fakeDriver(50),
      connectTimeoutMs: 1_000,
    });
    closers.push(() => pool.close(100));
    // Both sessions are being opened by the warm-up, so these two callers queue.
    const started = performance.now();
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    expect(performance.now() - started).toBeLessThan(500);
    expect(pool.stats()).toMatchObject({ size: 2, inUse: 2, idle: 0, waiting: 0 });
    await pool.release(a, { reset: false });
    await pool.release(b, { reset: false });
  });
});

describe("the pool manager", () => {
  it("moves a caller waiting on a retired pool to its successor instead of failing it", async () => {
    const driver = fakeDriver(5);
    let loads = 0;
    const manager = new PoolManager({
      load: async () => {
        loads++;
        return {
          settings: settings({ maxPoolSize: 1, acquireTimeoutMs: 2_000 }),
          credentials: new Credentials("u", `password-${loads}`, undefined),
        };
      },
      drivers: () => driver,
      connectTimeoutMs: 1_000,
    });
    closers.push(() => manager.closeAll(100));
    const holder = await manager.acquire("c");
    const waiting = manager.acquire("c");
    await new Promise((r) => setTimeout(r, 20));
    expect(holder.pool.stats().waiting).toBe(1);
    // The connection's credentials change: a new pool takes over.
    const retired = manager.retire("c", 1_000);
    const moved = await waiting;
    expect(moved.pool).not.toBe(holder.pool);
    expect(loads).toBe(2);
    await holder.pool.release(holder.pooled, { reset: false });
    await retired;
    await moved.pool.release(moved.pooled, { reset: false });
  });

  it("after closeAll, refuses instead of building new pools", async () => {
    const manager = new PoolManager({
      load: async () => ({ settings: settings({}), credentials: new Credentials("u", "p", undefined) }),
      drivers: () => fakeDriver(1),
      connectTimeoutMs: 1_000,
    });
    await manager.closeAll(10);
    await expect(manager.acquire("c")).rejects.toMatchObject({ details: { reason: "shutting_down" } });
  });
});
