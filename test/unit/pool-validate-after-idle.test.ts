import { describe, expect, it } from "vitest";
import { advance, closePoolsAfterEach, fakePool, track } from "../support/fake-pool.js";

closePoolsAfterEach();

/** Pools here keep sessions for long (no idle or lifetime eviction) to isolate the check on reuse. */
const LONG = { idleTimeoutMs: 3_600_000, maxLifetimeMs: 0 };

describe("pool validate after idle", () => {
  it("hands a session released moments ago out without a round trip", async () => {
    const { pool, driver } = fakePool(LONG);
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    await advance(4_000);
    expect(await pool.acquire()).toBe(s);
    expect(driver.pings).toBe(0);
  });

  it("pings a session idle for 5 s or more before handing it out", async () => {
    const { pool, driver } = fakePool(LONG);
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    await advance(5_000);
    expect(await pool.acquire()).toBe(s);
    expect(driver.pings).toBe(1);
  });

  it("drops an idle session whose ping fails and gives the caller a fresh one", async () => {
    const { pool, driver, destroyed } = fakePool(LONG);
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    await advance(6_000);
    driver.failPing = true;
    const next = await pool.acquire();
    expect(next).not.toBe(s);
    expect(destroyed).toEqual([{ id: s.id, reason: "validation_failed" }]);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(driver.opened).toBe(2);
  });

  it("gives up on a ping that never answers after min(2 s, connect timeout) and opens a new session", async () => {
    const { pool, driver, destroyed } = fakePool(LONG);
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    await advance(6_000);
    driver.pingHangs = true;
    const caller = track(pool.acquire());
    // The fake pool's connect timeout is 1 s.
    await advance(999);
    expect(caller.state).toBe("pending");
    await advance(1);
    expect(caller.state).toBe("resolved");
    expect(caller.value).not.toBe(s);
    expect(destroyed).toEqual([{ id: s.id, reason: "validation_failed" }]);
  });

  it("skips an idle session whose socket is known to be gone, without pinging it", async () => {
    const { pool, driver, destroyed } = fakePool(LONG);
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    driver.sessions[0]!.healthy = false;
    const next = await pool.acquire();
    expect(next).not.toBe(s);
    expect(driver.pings).toBe(0);
    expect(destroyed).toEqual([{ id: s.id, reason: "validation_failed" }]);
  });
});
