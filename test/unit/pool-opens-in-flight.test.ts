import { describe, expect, it } from "vitest";
import { FakeDriver } from "../support/fake-driver.js";
import { advance, closePoolsAfterEach, fakePool, track } from "../support/fake-pool.js";

closePoolsAfterEach();

/** A host that takes connections and never answers: opens hang far past the pool's connect timeout (1 s). */
function blackHoled(): FakeDriver {
  const driver = new FakeDriver();
  driver.openDelayMs = 60_000;
  return driver;
}

describe("pool opens in flight", () => {
  it("count as opening, not in use, and callers that time out behind them hear UNAVAILABLE database_not_answering", async () => {
    const { pool } = fakePool({ maxPoolSize: 2, acquireTimeoutMs: 300 }, blackHoled());
    const callers = [1, 2, 3, 4].map(() => track(pool.acquire()));
    await advance(0);
    expect(pool.stats()).toMatchObject({ size: 2, opening: 2, inUse: 0, idle: 0, waiting: 2 });
    await advance(299);
    expect(callers.map((c) => c.state)).toEqual(["pending", "pending", "pending", "pending"]);
    await advance(1);
    // Those who opened and those who queued behind the opens: none is told the pool is exhausted.
    expect(callers.map((c) => c.state)).toEqual(Array(4).fill("database_not_answering"));
    // Still within the connect timeout: the two opens hold both slots.
    const later = pool.acquire().catch((e: unknown) => e);
    await advance(300);
    const err = await later;
    expect(err).toMatchObject({
      kind: "unavailable",
      details: { reason: "database_not_answering", opening: 2, in_use: 0, max_size: 2 },
    });
    expect(String((err as Error).message)).toContain("db.example:5432 is not answering");
  });

  it("an open that hangs is bounded by the connect timeout: the slot is freed and a late session closed", async () => {
    const driver = blackHoled();
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 5_000 }, driver);
    const caller = track(pool.acquire());
    await advance(999);
    expect(caller.state).toBe("pending");
    await advance(1);
    expect(caller.state).toBe("database_not_answering");
    expect(pool.stats()).toMatchObject({ size: 0, opening: 0 });
    await advance(60_000);
    expect(driver.sessions).toHaveLength(1);
    expect(driver.sessions[0]!.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
  });

  it("callers queued behind opens that failed for want of an answer end by their bound with database_not_answering", async () => {
    const { pool } = fakePool({ maxPoolSize: 2, acquireTimeoutMs: 3_000 }, blackHoled());
    const callers = [1, 2, 3, 4].map(() => track(pool.acquire()));
    await advance(1_000);
    expect(callers.map((c) => c.state)).toEqual([
      "database_not_answering",
      "database_not_answering",
      "pending",
      "pending",
    ]);
    await advance(2_000);
    expect(callers.map((c) => c.state)).toEqual(Array(4).fill("database_not_answering"));
    expect(pool.stats()).toMatchObject({ size: 0, opening: 0, waiting: 0 });
  });

  it("an open that completes after its caller gave up serves the next caller waiting", async () => {
    const driver = new FakeDriver();
    driver.openDelayMs = 800;
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 500 }, driver);
    const first = track(pool.acquire());
    await advance(500);
    expect(first.state).toBe("database_not_answering");
    const second = track(pool.acquire());
    await advance(300);
    expect(second.state).toBe("resolved");
    expect(driver.opened).toBe(1);
    expect(pool.stats()).toMatchObject({ inUse: 1, opening: 0 });
  });

  it("the slot a failed open frees goes to a caller waiting, not left idle until its timeout", async () => {
    const driver = new FakeDriver();
    driver.openDelayMs = 100;
    driver.openFailure = new Error("connect ECONNRESET");
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 5_000 }, driver);
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    await advance(100);
    expect([first.state, second.state]).toEqual(["connection_refused", "pending"]);
    driver.openFailure = undefined;
    await advance(100);
    expect(second.state).toBe("resolved");
    expect(pool.stats()).toMatchObject({ inUse: 1, opening: 0, waiting: 0 });
  });

  it("a caller's own deadline, if sooner, bounds the acquisition", async () => {
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 10_000 }, blackHoled());
    const caller = track(pool.acquire(performance.now() + 300));
    await advance(300);
    expect(caller.state).toBe("database_not_answering");
  });

  it("an idle session that does not answer its ping does not hold the caller past its bound", async () => {
    const driver = new FakeDriver();
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 400 }, driver);
    await pool.release(await pool.acquire(), { reset: false });
    await advance(6_000);
    driver.pingHangs = true;
    driver.openDelayMs = 60_000;
    const caller = track(pool.acquire());
    await advance(400);
    expect(caller.state).toBe("database_not_answering");
  });
});
