import { describe, expect, it } from "vitest";
import { Credentials } from "../../src/connections/settings.js";
import { PoolManager } from "../../src/pools/pool-manager.js";
import { FakeDriver } from "../support/fake-driver.js";
import {
  advance,
  closePoolsAfterEach,
  fakePool,
  fakeSettings,
  startClock,
  track,
} from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool retire and close", () => {
  it("tells callers still waiting pool_retired, and closes a lent session when it returns, unreset", async () => {
    const { pool, driver, destroyed } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 10_000 });
    const holder = await pool.acquire();
    const waiting = track(pool.acquire());
    await advance(0);
    expect(pool.stats().waiting).toBe(1);

    const closed = track(pool.close(30_000, "retired"));
    await advance(0);
    expect(waiting.state).toBe("pool_retired");
    expect(closed.state).toBe("pending");
    expect(pool.closed).toBe(true);

    await pool.release(holder, { reset: true });
    await advance(0);
    expect(destroyed).toEqual([{ id: holder.id, reason: "pool_closed" }]);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(driver.resets).toBe(0);
    expect(closed.state).toBe("resolved");
  });

  it("closes idle sessions at once", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 2 });
    const [a, b] = [await pool.acquire(), await pool.acquire()];
    await pool.release(a, { reset: false });
    const closed = track(pool.close(30_000, "retired"));
    await advance(0);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(driver.sessions[1]!.closed).toBe(false);
    expect(closed.state).toBe("pending");
    await pool.release(b, { reset: false });
    await advance(0);
    expect(closed.state).toBe("resolved");
  });

  it("refuses new callers once closed", async () => {
    const { pool } = fakePool();
    await pool.close(0, "retired");
    await expect(pool.acquire()).rejects.toMatchObject({
      kind: "unavailable",
      details: { reason: "pool_closed" },
    });
  });

  it("a plain close tells waiting callers pool_closed, so they are not moved to a successor", async () => {
    const { pool } = fakePool({ maxPoolSize: 1 });
    await pool.acquire();
    const waiting = track(pool.acquire());
    void pool.close(0, "closed");
    await advance(0);
    expect(waiting.state).toBe("pool_closed");
  });

  it("closes sessions still lent out when the grace period ends", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 1 });
    await pool.acquire();
    const closed = track(pool.close(5_000, "retired"));
    await advance(4_999);
    expect(closed.state).toBe("pending");
    expect(driver.sessions[0]!.closed).toBe(false);
    await advance(1);
    expect(closed.state).toBe("resolved");
    expect(driver.sessions[0]!.closed).toBe(true);
  });

  it("a session whose reset was under way when the pool closed is closed, and close does not wait out the grace", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 1 });
    const s = await pool.acquire();
    driver.resetDelayMs = 100;
    const released = pool.release(s, { reset: true });
    const closed = track(pool.close(30_000, "retired"));
    await advance(100);
    await released;
    await advance(0);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(closed.state).toBe("resolved");
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
  });

  it("a session opened for a caller after the pool closed is closed and the caller told so", async () => {
    const driver = new FakeDriver();
    driver.openDelayMs = 100;
    const { pool } = fakePool({ maxPoolSize: 1 }, driver);
    const caller = track(pool.acquire());
    void pool.close(0, "retired");
    await advance(100);
    expect(caller.state).toBe("pool_closed");
    expect(driver.open).toBe(0);
  });
});

describe("the pool manager's retire", () => {
  it("moves a caller waiting on a retired pool to its successor instead of failing it", async () => {
    startClock();
    const driver = new FakeDriver();
    let loads = 0;
    const manager = new PoolManager({
      load: async () => {
        loads++;
        return {
          settings: fakeSettings({ maxPoolSize: 1, acquireTimeoutMs: 2_000 }),
          credentials: new Credentials("u", `password-${loads}`, undefined),
        };
      },
      drivers: () => driver,
      connectTimeoutMs: 1_000,
    });
    const holder = await manager.acquire("c");
    const waiting = track(manager.acquire("c"));
    await advance(0);
    expect(holder.pool.stats().waiting).toBe(1);
    // The connection's credentials change: a new pool takes over.
    const retired = track(manager.retire("c", 1_000));
    await advance(0);
    expect(waiting.state).toBe("resolved");
    const moved = waiting.value!;
    expect(moved.pool).not.toBe(holder.pool);
    expect(loads).toBe(2);
    expect(driver.connects.map((c) => c.credentials.password)).toEqual(["password-1", "password-2"]);
    expect(retired.state).toBe("pending");
    await holder.pool.release(holder.pooled, { reset: false });
    await advance(0);
    expect(retired.state).toBe("resolved");
    await moved.pool.release(moved.pooled, { reset: false });
    await manager.closeAll(0);
  });

  it("after closeAll, refuses instead of building new pools", async () => {
    const manager = new PoolManager({
      load: async () => ({ settings: fakeSettings(), credentials: new Credentials("u", "p", undefined) }),
      drivers: () => new FakeDriver(),
      connectTimeoutMs: 1_000,
    });
    await manager.closeAll(10);
    await expect(manager.acquire("c")).rejects.toMatchObject({ details: { reason: "shutting_down" } });
  });
});
