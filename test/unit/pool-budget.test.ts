import { describe, expect, it } from "vitest";
import type { BerthError } from "../../src/errors/berth-error.js";
import { fairShare } from "../../src/pools/pool-permits.js";
import { FakeDriver } from "../support/fake-driver.js";
import { advance, closePoolsAfterEach, fakePool, settle, track } from "../support/fake-pool.js";
import { MemoryBudget } from "../support/memory-budget.js";

closePoolsAfterEach();

/** The budget key of fakePool's pools (connection c1 on db.example:5432). */
const KEY = { connectionId: "c1", host: "db.example:5432" };

/** Two pools of one connection, as two instances hold them, sharing one budget. */
function twoInstances(settings: Parameters<typeof fakePool>[0] = {}) {
  const budget = new MemoryBudget();
  const pool = { maxPoolSize: 2, acquireTimeoutMs: 1_000, ...settings };
  const a = fakePool(pool, new FakeDriver(), budget.instance("a"));
  const b = fakePool(pool, new FakeDriver(), budget.instance("b"));
  return { budget, a, b };
}

describe("a pool under a connection budget shared by instances", () => {
  it("takes one permit per session it opens, and none to reuse an idle session", async () => {
    const { budget, a } = twoInstances();
    const s = await a.pool.acquire();
    expect(budget.takes).toBe(1);
    expect(budget.count(KEY)).toBe(1);
    for (let i = 0; i < 5; i++) {
      await a.pool.release(s, { reset: false });
      expect(await a.pool.acquire()).toBe(s);
    }
    expect(budget.takes).toBe(1);
    expect(a.driver.opened).toBe(1);
  });

  it("queues a caller while other instances hold the budget, and serves it when one gives a permit back", async () => {
    const { budget, a, b } = twoInstances({ acquireTimeoutMs: 10_000 });
    const [s1] = [await a.pool.acquire(), await a.pool.acquire()];
    const waiting = track(b.pool.acquire());
    await settle();
    // B has room of its own (maxPoolSize 2, nothing open) but the connection's 2 are A's.
    expect(waiting.state).toBe("pending");
    expect(b.pool.stats()).toMatchObject({ size: 0, waiting: 1 });
    expect(b.driver.openAttempts).toBe(0);

    await a.pool.destroy(s1!);
    await settle();
    expect(waiting.state).toBe("resolved");
    expect(b.driver.opened).toBe(1);
    expect(budget.count(KEY)).toBe(2);
  });

  it("finds a dead instance's permits once their lease runs out, with nobody announcing it", async () => {
    const { budget, a, b } = twoInstances({ acquireTimeoutMs: 10_000 });
    await a.pool.acquire();
    const held = await a.pool.acquire();
    const waiting = track(b.pool.acquire());
    await settle();
    expect(waiting.state).toBe("pending");
    budget.expire(held.permit as never);
    // Retried every 50–150 ms while the caller waits.
    await advance(150);
    expect(waiting.state).toBe("resolved");
  });

  it("answers pool_exhausted after the acquire timeout, saying the budget is shared and its numbers", async () => {
    const { a, b } = twoInstances({ acquireTimeoutMs: 1_000 });
    await a.pool.acquire();
    await a.pool.acquire();
    const started = performance.now();
    const refused = b.pool.acquire().catch((e: BerthError) => e);
    await advance(1_000);
    const err = (await refused) as BerthError;
    expect(performance.now() - started).toBe(1_000);
    expect(err.kind).toBe("pool_operation_failed");
    expect(err.details).toMatchObject({
      reason: "pool_exhausted",
      budget: "shared_across_instances",
      budget_held: 2,
      budget_max: 2,
      current_size: 0,
    });
    expect(err.message).toMatch(/budget of 2 sessions is shared by every Berth instance, and all 2 are held/);
  });

  it("gives a permit back only once its session has closed, and when an open fails", async () => {
    const { budget, a } = twoInstances();
    const closedWhenReleased: boolean[] = [];
    budget.onRelease = () => closedWhenReleased.push(a.driver.sessions[0]!.closed);
    const s = await a.pool.acquire();
    await a.pool.destroy(s);
    await settle();
    expect(closedWhenReleased).toEqual([true]);
    expect(budget.count(KEY)).toBe(0);

    a.driver.openFailure = new Error("connection refused");
    await expect(a.pool.acquire()).rejects.toMatchObject({ details: { reason: "connection_refused" } });
    expect(budget.count(KEY)).toBe(0);
  });

  it("keeps serving open sessions when the budget cannot be reached, and answers budget_unavailable for more", async () => {
    const { budget, a } = twoInstances({ acquireTimeoutMs: 1_000 });
    const s = await a.pool.acquire();
    budget.unreachable = true;
    await a.pool.release(s, { reset: false });
    const again = await a.pool.acquire();
    expect(again).toBe(s);
    const more = a.pool.acquire().catch((e: BerthError) => e);
    await advance(1_000);
    const err = (await more) as BerthError;
    expect(err.kind).toBe("unavailable");
    expect(err.details).toMatchObject({ reason: "budget_unavailable", in_use: 1 });
  });

  it("serves a caller waiting through an outage of the budget when it comes back", async () => {
    const { budget, a } = twoInstances({ acquireTimeoutMs: 5_000 });
    budget.unreachable = true;
    const waiting = track(a.pool.acquire());
    await advance(500);
    expect(waiting.state).toBe("pending");
    budget.unreachable = false;
    await advance(150);
    expect(waiting.state).toBe("resolved");
  });

  it("closes a session whose permit was lost: at once when idle, on release when in use", async () => {
    const { budget, a } = twoInstances();
    const idle = await a.pool.acquire();
    const busy = await a.pool.acquire();
    await a.pool.release(idle, { reset: false });
    budget.lose(idle.permit as never);
    await settle();
    expect(a.destroyed).toEqual([{ id: idle.id, reason: "permit_lost" }]);

    budget.lose(busy.permit as never);
    await settle();
    expect(a.destroyed).toHaveLength(1);
    await a.pool.release(busy, { reset: false });
    expect(a.destroyed).toEqual([
      { id: idle.id, reason: "permit_lost" },
      { id: busy.id, reason: "permit_lost" },
    ]);
  });

  it("never lets the instances together hold more than maxPoolSize, however the callers arrive", async () => {
    const { budget, a, b } = twoInstances({ maxPoolSize: 3, acquireTimeoutMs: 10_000 });
    let most = 0;
    const work = async (pool: typeof a.pool) => {
      const s = await pool.acquire();
      most = Math.max(most, budget.count(KEY), a.driver.open + b.driver.open);
      await advance(Math.floor(Math.random() * 20));
      if (Math.random() < 0.3) await pool.destroy(s);
      else await pool.release(s, { reset: false });
    };
    await Promise.all(Array.from({ length: 40 }, (_, i) => work(i % 2 ? a.pool : b.pool)));
    expect(most).toBeLessThanOrEqual(3);
    expect(a.driver.open + b.driver.open).toBeLessThanOrEqual(3);
  });
});

describe("fair shares of a budget several instances want", () => {
  it("keeps a busy instance to its share: a released session above it is closed and the waiting instance gets it", async () => {
    const { budget, a, b } = twoInstances({ maxPoolSize: 4, acquireTimeoutMs: 10_000 });
    const held = await Promise.all([0, 1, 2, 3].map(() => a.pool.acquire()));
    // A's own callers wait too: without shares, every session A releases would go to them.
    const aWaiting = track(a.pool.acquire());
    const bWaiting = track(b.pool.acquire());
    await settle();
    expect(bWaiting.state).toBe("pending");

    await a.pool.release(held[0]!, { reset: false });
    await settle();
    expect(a.destroyed).toEqual([{ id: held[0]!.id, reason: "over_share" }]);
    expect(bWaiting.state).toBe("resolved");
    expect(aWaiting.state).toBe("pending");
    // A is down to its share (2 of 4) after one more; from then on, its releases serve its callers.
    await a.pool.release(held[1]!, { reset: false });
    await settle();
    await a.pool.release(held[2]!, { reset: false });
    await settle();
    expect(aWaiting.state).toBe("resolved");
    expect(a.destroyed.map((d) => d.reason)).toEqual(["over_share", "over_share"]);
    expect(budget.count(KEY)).toBeLessThanOrEqual(4);
  });

  it("closes idle sessions above its share as soon as another instance says it wants", async () => {
    const { a, b } = twoInstances({ maxPoolSize: 4, acquireTimeoutMs: 10_000 });
    const held = await Promise.all([0, 1, 2, 3].map(() => a.pool.acquire()));
    for (const s of held) await a.pool.release(s, { reset: false });
    const waiting = Promise.all([b.pool.acquire(), b.pool.acquire()]);
    await advance(200);
    await waiting;
    expect(a.destroyed.map((d) => d.reason)).toEqual(["over_share", "over_share"]);
    expect(a.pool.stats().size).toBe(2);
  });

  it("splits evenly, gives the remainder in turns, and is the whole budget when nobody else wants", async () => {
    const c = (self: string, ...others: string[]) => ({ self, others });
    expect(fairShare(6, c("a"), 0)).toBe(6);
    for (const self of ["a", "b", "c"])
      expect(fairShare(6, c(self, ...["a", "b", "c"].filter((x) => x !== self)), 0)).toBe(2);
    const shares = (now: number) =>
      ["a", "b", "c"].map((self) => fairShare(4, c(self, ...["a", "b", "c"].filter((x) => x !== self)), now));
    const turns = [0, 10_000, 20_000].map(shares);
    for (const t of turns) expect(t.reduce((x, y) => x + y)).toBe(4);
    // With more instances than sessions, each gets one in turn.
    const two = (now: number) =>
      ["a", "b", "c"].map((self) => fairShare(2, c(self, ...["a", "b", "c"].filter((x) => x !== self)), now));
    const got = [0, 10_000, 20_000].map(two);
    for (const t of got) expect(t.reduce((x, y) => x + y)).toBe(2);
    for (let i = 0; i < 3; i++) expect(got.some((t) => t[i] === 1)).toBe(true);
  });
});
