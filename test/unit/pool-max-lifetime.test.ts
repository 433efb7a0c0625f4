import { describe, expect, it } from "vitest";
import { advance, closePoolsAfterEach, fakePool } from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool max lifetime", () => {
  it("closes a session past maxLifetimeMs when it is released instead of keeping it", async () => {
    const { pool, driver, destroyed } = fakePool({ maxLifetimeMs: 60_000, idleTimeoutMs: 600_000 });
    const s = await pool.acquire();
    await advance(60_001);
    await pool.release(s, { reset: true });
    expect(destroyed).toEqual([{ id: s.id, reason: "max_lifetime" }]);
    expect(driver.sessions[0]!.closed).toBe(true);
    // Not reset first: it is going away anyway.
    expect(driver.resets).toBe(0);
    const next = await pool.acquire();
    expect(next.id).not.toBe(s.id);
    expect(driver.opened).toBe(2);
  });

  it("keeps a session released before its lifetime is up", async () => {
    const { pool, destroyed } = fakePool({ maxLifetimeMs: 60_000, idleTimeoutMs: 600_000 });
    const s = await pool.acquire();
    await advance(59_000);
    await pool.release(s, { reset: false });
    expect(destroyed).toEqual([]);
    expect(await pool.acquire()).toBe(s);
  });

  it("closes an idle session past its lifetime, even one kept for minPoolSize, and opens its replacement", async () => {
    const { pool, driver, destroyed } = fakePool({
      minPoolSize: 1,
      maxPoolSize: 2,
      maxLifetimeMs: 60_000,
      idleTimeoutMs: 600_000,
    });
    await advance(0);
    expect(driver.opened).toBe(1);
    // The evictor runs every 30 s at most.
    await advance(90_000);
    expect(destroyed).toEqual([{ id: 1, reason: "max_lifetime" }]);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(driver.opened).toBe(2);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1 });
  });

  it("does not hand out an idle session whose lifetime is up before the evictor got to it", async () => {
    const { pool, driver, destroyed } = fakePool({ maxLifetimeMs: 10_000, idleTimeoutMs: 600_000 });
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    // Past the lifetime, before the evictor's next run (every 30 s for this idle timeout).
    await advance(10_001);
    const next = await pool.acquire();
    expect(next).not.toBe(s);
    expect(destroyed).toEqual([{ id: s.id, reason: "max_lifetime" }]);
    expect(driver.opened).toBe(2);
  });

  it("with maxLifetimeMs 0 never replaces a session for its age", async () => {
    const { pool, destroyed } = fakePool({ maxLifetimeMs: 0, idleTimeoutMs: 600_000 });
    const s = await pool.acquire();
    await advance(10 * 3_600_000);
    await pool.release(s, { reset: false });
    expect(destroyed).toEqual([]);
    expect(await pool.acquire()).toBe(s);
  });
});
