import { describe, expect, it } from "vitest";
import { Credentials } from "../../src/connections/settings.js";
import { QueryFailedError } from "../../src/errors/berth-error.js";
import type { ConnectionPool } from "../../src/pools/pool.js";
import { PoolManager } from "../../src/pools/pool-manager.js";
import type { RoleSource } from "../../src/pools/routing.js";
import { FakeDriver } from "../support/fake-driver.js";
import { fakeSettings } from "../support/fake-pool.js";

/** Roles as a test decides them: which slot takes writes, which slots may serve reads. */
function roles(state: { writer?: number; readable: number[] }) {
  const checks: string[] = [];
  const slotOf = (p: ConnectionPool) => (p.role === "primary" ? 0 : Number(p.settings.port) - 5432);
  const source: RoleSource = {
    observed: () => true,
    isWriter: (p) => slotOf(p) === state.writer,
    readable: (p) => state.readable.includes(slotOf(p)),
    settle: async () => {},
    checkSoon: (id) => checks.push(id),
    position: () => undefined,
  };
  return { source, checks };
}

function manager(source: RoleSource) {
  const settings = {
    ...fakeSettings({ acquireTimeoutMs: 5_000 }),
    replicas: [
      { server: "r1.example", port: 5433 },
      { server: "r2.example", port: 5434 },
    ],
  };
  const pools = new PoolManager({
    load: async () => ({ settings, credentials: new Credentials("u", "p", undefined) }),
    drivers: () => new FakeDriver(),
    connectTimeoutMs: 1_000,
    roles: source,
  });
  return pools;
}

/** Routing by observed roles (src/pools/pool-manager.ts), with the roles made up and a fake driver. */
describe("routing by observed roles", () => {
  it("writes go to whichever slot is primary; without one they fail at once with no_primary", async () => {
    const state: { writer?: number; readable: number[] } = { writer: 2, readable: [0, 1] };
    const r = roles(state);
    const pools = manager(r.source);
    const got = await pools.acquire("c1", "write");
    expect(got.pool.host).toBe("r2.example:5434");
    await got.pool.release(got.pooled, { reset: false });

    state.writer = undefined;
    const started = performance.now();
    await expect(pools.acquire("c1", "write")).rejects.toMatchObject({
      kind: "unavailable",
      details: { reason: "no_primary" },
    });
    expect(performance.now() - started).toBeLessThan(100);
    // A write that finds no primary has the hosts checked at once.
    expect(r.checks).toEqual(["c1"]);
    // Reads go on, on the replicas (here the old primary's slot answers as one).
    const read = await pools.acquire("c1", "read");
    expect(["db.example:5432", "r1.example:5433"]).toContain(read.pool.host);
    await pools.closeAll(0);
  });

  it("a read-only refusal (SQLSTATE 25006, MySQL 1290) has the hosts checked at once; other failures do not", async () => {
    const r = roles({ writer: 0, readable: [1, 2] });
    const pools = manager(r.source);
    const { pool, pooled } = await pools.acquire("c1", "write");
    pools.noteFailure(pool, new QueryFailedError("syntax", { reason: "query_failed", error_code: "42601" }));
    expect(r.checks).toEqual([]);
    pools.noteFailure(
      pool,
      new QueryFailedError("cannot execute INSERT in a read-only transaction", {
        reason: "query_failed",
        error_code: "25006",
      }),
    );
    pools.noteFailure(
      pool,
      new QueryFailedError("read-only", { reason: "query_failed", error_code: "1290" }),
    );
    expect(r.checks).toEqual(["c1", "c1"]);
    await pool.release(pooled, { reset: false });
    await pools.closeAll(0);
  });

  it("a demoted primary's pool is closed and replaced; the front door's cached pool says so", async () => {
    const r = roles({ writer: 0, readable: [1, 2] });
    const pools = manager(r.source);
    const { pool: old, pooled } = await pools.acquire("c1", "write");
    pools.demote(old, 0);
    expect(old.closed).toBe(true);
    expect(pools.demoted(old)).toBe(true);
    const fresh = pools.poolsOf("c1")[0]!;
    expect(fresh).not.toBe(old);
    expect(fresh.host).toBe(old.host);
    await old.release(pooled, { reset: false });
    await pools.closeAll(0);
  });
});
