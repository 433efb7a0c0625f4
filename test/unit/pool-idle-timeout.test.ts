import { describe, expect, it } from "vitest";
import { advance, closePoolsAfterEach, fakePool } from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool idle timeout", () => {
  it("closes a session idle longer than idleTimeoutMs (checked every idleTimeoutMs / 2), not sooner", async () => {
    const { pool, driver, destroyed } = fakePool({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    const s = await pool.acquire();
    await pool.release(s, { reset: false });
    await advance(10_000);
    expect(driver.sessions[0]!.closed).toBe(false);
    expect(pool.stats().idle).toBe(1);
    await advance(5_000);
    expect(driver.sessions[0]!.closed).toBe(true);
    expect(destroyed).toEqual([{ id: s.id, reason: "idle" }]);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
  });

  it("counts idle time from the last release, so a session in steady use stays open", async () => {
    const { pool, driver } = fakePool({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    for (let i = 0; i < 6; i++) {
      const s = await pool.acquire();
      await pool.release(s, { reset: false });
      await advance(4_000);
    }
    expect(driver.opened).toBe(1);
    expect(driver.sessions[0]!.closed).toBe(false);
  });

  it("keeps minPoolSize sessions open however long they idle", async () => {
    const { pool, driver, destroyed } = fakePool({
      minPoolSize: 1,
      maxPoolSize: 3,
      idleTimeoutMs: 10_000,
      maxLifetimeMs: 0,
    });
    const [a, b, c] = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    for (const s of [a, b, c]) await pool.release(s, { reset: false });
    await advance(60_000);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1 });
    expect(destroyed.map((d) => d.reason)).toEqual(["idle", "idle"]);
    expect(driver.open).toBe(1);
  });

  it("never closes a session that is in use, however long it is held", async () => {
    const { pool, driver } = fakePool({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    const s = await pool.acquire();
    await advance(60_000);
    expect(driver.sessions[0]!.closed).toBe(false);
    await pool.release(s, { reset: false });
    expect(pool.stats().idle).toBe(1);
  });
});
