import { describe, expect, it } from "vitest";
import { PoolExhaustedError } from "../../src/pools/pool-errors.js";
import { FakeDriver } from "../support/fake-driver.js";
import { advance, closePoolsAfterEach, fakePool, track } from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool acquire timeout", () => {
  it("answers pool_exhausted once a caller has waited acquireTimeoutMs for a full pool, not before", async () => {
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 3_000 });
    await pool.acquire();
    const waiting = pool.acquire();
    const caller = track(waiting);
    await advance(2_999);
    expect(caller.state).toBe("pending");
    await advance(1);
    expect(caller.state).toBe("pool_exhausted");
    await expect(waiting).rejects.toBeInstanceOf(PoolExhaustedError);
    await expect(waiting).rejects.toMatchObject({
      kind: "pool_operation_failed",
      // `waiting` counts the callers still queued, this one no longer among them.
      details: { reason: "pool_exhausted", max_size: 1, current_size: 1, waiting: 0 },
    });
    expect(pool.stats().waiting).toBe(0);
  });

  it("a caller that timed out is gone from the queue: the next release goes to the one behind it", async () => {
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 1_000 });
    const held = await pool.acquire();
    const first = track(pool.acquire());
    await advance(500);
    const second = track(pool.acquire());
    await advance(500);
    expect(first.state).toBe("pool_exhausted");
    expect(second.state).toBe("pending");
    await pool.release(held, { reset: false });
    await advance(0);
    expect(second.state).toBe("resolved");
    expect(second.value).toBe(held);
  });

  it("a caller served before the timeout is not failed by it later", async () => {
    const { pool } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 1_000 });
    const held = await pool.acquire();
    const caller = track(pool.acquire());
    await advance(400);
    await pool.release(held, { reset: false });
    await advance(5_000);
    expect(caller.state).toBe("resolved");
    expect(pool.stats()).toMatchObject({ inUse: 1, waiting: 0 });
  });

  it("a session that cannot be opened fails the caller at once with UNAVAILABLE, without waiting", async () => {
    const driver = new FakeDriver();
    driver.openFailure = new Error("connect ECONNREFUSED 10.0.0.1:5432 password=secret-password");
    const { pool } = fakePool({ maxPoolSize: 2, acquireTimeoutMs: 10_000 }, driver);
    const err = await pool.acquire().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "unavailable", details: { reason: "connection_refused" } });
    // The credentials never reach the message.
    expect(String((err as Error).message)).not.toContain("secret-password");
    expect(pool.stats()).toMatchObject({ size: 0, waiting: 0 });
  });
});
