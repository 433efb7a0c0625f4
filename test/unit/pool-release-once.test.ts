import { describe, expect, it } from "vitest";
import { closePoolsAfterEach, fakePool } from "../support/fake-pool.js";

closePoolsAfterEach();

describe("pool release once", () => {
  it("a second release of the same session does nothing: no second reset, no second idle entry", async () => {
    const { pool, driver } = fakePool({ maxPoolSize: 5 });
    const s = await pool.acquire();
    await pool.release(s, { reset: true });
    await pool.release(s, { reset: true });
    expect(driver.resets).toBe(1);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, inUse: 0 });
    // Two callers never share a session.
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(a).not.toBe(b);
  });

  it("destroy after release, and release after destroy, are ignored", async () => {
    const { pool, driver, destroyed } = fakePool({ maxPoolSize: 5 });
    const a = await pool.acquire();
    await pool.release(a, { reset: false });
    await pool.destroy(a);
    expect(destroyed).toEqual([]);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1 });

    const b = await pool.acquire();
    await pool.destroy(b);
    await pool.destroy(b);
    await pool.release(b, { reset: true });
    expect(destroyed).toEqual([{ id: b.id, reason: "caller" }]);
    expect(driver.resets).toBe(0);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, inUse: 0 });
  });
});
