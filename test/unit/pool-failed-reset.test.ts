import { describe, expect, it } from "vitest";
import { advance, closePoolsAfterEach, fakePool, track } from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool failed reset", () => {
  it("resets a session on release when asked, and keeps it", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 2 });
    const s = await pool.acquire();
    await pool.release(s, { reset: true });
    expect(driver.sessions[0]!.resets).toBe(1);
    expect(await pool.acquire()).toBe(s);
  });

  it("does not reset when told the session is clean", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 2 });
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    expect(driver.resets).toBe(0);
  });

  it("closes a session whose reset fails instead of lending it again", async () => {
    const { pool, driver, destroyed } = fakePool({ maxPoolSize: 2 });
    const s = await pool.acquire();
    driver.failReset = true;
    await pool.release(s, { reset: true });
    expect(destroyed).toEqual([{ id: s.id, reason: "reset_failed" }]);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, inUse: 0 });
    driver.failReset = false;
    const next = await pool.acquire();
    expect(next).not.toBe(s);
  });

  it("a caller waiting for the session whose reset failed gets a new one opened in its place", async () => {
    const { pool, driver, destroyed } = fakePool({ maxPoolSize: 1, acquireTimeoutMs: 5_000 });
    const s = await pool.acquire();
    const waiting = track(pool.acquire());
    driver.failReset = true;
    await pool.release(s, { reset: true });
    await advance(0);
    expect(destroyed.map((d) => d.reason)).toEqual(["reset_failed"]);
    expect(waiting.state).toBe("resolved");
    expect(waiting.value).not.toBe(s);
    expect(driver.opened).toBe(2);
  });

  it("an unhealthy session is not reset at all, only closed", async () => {
    const { pool, driver, destroyed } = fakePool({ maxPoolSize: 1 });
    const s = await pool.acquire();
    driver.sessions[0]!.healthy = false;
    await pool.release(s, { reset: true });
    expect(driver.resets).toBe(0);
    expect(destroyed).toEqual([{ id: s.id, reason: "unhealthy" }]);
  });
});
