import { describe, expect, it } from "vitest";
import { FakeDriver } from "../support/fake-driver.js";
import { advance, closePoolsAfterEach, fakePool, settle, track } from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool sizing", () => {
  it("opens sessions on demand and never more than maxPoolSize; the next caller waits", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 2, minPoolSize: 0 });
    expect(driver.openAttempts).toBe(0);
    const a = await pool.acquire();
    const b = await pool.acquire();
    let third: unknown;
    void pool.acquire().then((p) => {
      third = p;
    });
    await settle();
    expect(driver.openAttempts).toBe(2);
    expect(third).toBeUndefined();
    expect(pool.stats()).toMatchObject({ size: 2, inUse: 2, idle: 0, waiting: 1, maxSize: 2 });
    await pool.release(a, { reset: false });
    await settle();
    expect(third).toBe(a);
    expect(driver.openAttempts).toBe(2);
    await pool.release(b, { reset: false });
    expect(pool.stats()).toMatchObject({ size: 2, inUse: 1, idle: 1, waiting: 0 });
  });

  it("reuses the most recently released idle session instead of opening another", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 5 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    await pool.release(a, { reset: false });
    await pool.release(b, { reset: false });
    const again = await pool.acquire();
    expect(again).toBe(b);
    expect(driver.opened).toBe(2);
  });

  it("opens minPoolSize sessions when created, before anyone asks", async () => {
    const { pool, driver } = fakePool({ minPoolSize: 3, maxPoolSize: 5 });
    await settle();
    expect(driver.opened).toBe(3);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 3, inUse: 0 });
  });

  it("hands sessions opened to reach minPoolSize to callers that queued meanwhile", async () => {
    const driver = new FakeDriver();
    driver.openDelayMs = 50;
    const { pool } = fakePool({ minPoolSize: 2, maxPoolSize: 2, acquireTimeoutMs: 1_000 }, driver);
    // Both sessions are being opened by the warm-up, so these two callers queue.
    const both = Promise.all([pool.acquire(), pool.acquire()]);
    await settle();
    expect(pool.stats().waiting).toBe(2);
    await advance(50);
    const [a, b] = await both;
    expect(a).not.toBe(b);
    expect(driver.opened).toBe(2);
    expect(pool.stats()).toMatchObject({ size: 2, inUse: 2, idle: 0, waiting: 0 });
  });

  it("tops back up to minPoolSize after a session is taken out", async () => {
    const { pool, driver } = fakePool({ minPoolSize: 2, maxPoolSize: 4, idleTimeoutMs: 10_000 });
    await settle();
    const a = await pool.acquire();
    await pool.destroy(a);
    expect(pool.stats().size).toBe(1);
    // The evictor runs every idleTimeoutMs / 2 and tops up.
    await advance(5_000);
    expect(driver.opened).toBe(3);
    expect(pool.stats()).toMatchObject({ size: 2, idle: 2 });
  });

  it("fails a caller that queued behind the warm-up at once when the warm-up cannot open", async () => {
    const driver = new FakeDriver();
    driver.openDelayMs = 20;
    driver.openFailure = new Error("connect ECONNREFUSED");
    const { pool } = fakePool({ minPoolSize: 1, maxPoolSize: 1, acquireTimeoutMs: 10_000 }, driver);
    const caller = track(pool.acquire());
    await advance(20);
    // UNAVAILABLE with the driver's reason, not pool_exhausted ten seconds later.
    expect(caller.state).toBe("connection_refused");
  });
});
