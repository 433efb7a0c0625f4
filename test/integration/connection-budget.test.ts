import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BerthError } from "../../src/errors/berth-error.js";
import {
  type BudgetInstance,
  type BudgetInstanceOptions,
  type CallOutcome,
  createRole,
  dropRole,
  startBudgetInstance,
  watchSessions,
} from "../support/budget-instance.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth } from "../support/test-berth.js";
import { startThrowawayRedis } from "../support/throwaway-redis.js";
import { until } from "../support/waits.js";

/**
 * Issue 13's budget: three Berth instances share one connection with maxPoolSize 6 through Redis,
 * and PostgreSQL itself (pg_stat_activity, sampled every 20 ms, by the connection's own role) never
 * sees more than 6 sessions of it, however 60 callers spread over the instances pile up; an
 * instance killed with SIGKILL has its share reused by the others once its leases run out.
 */
const ready = (await serviceAvailable("postgres")) && (await serviceAvailable("redis"));
const REDIS = "redis://127.0.0.1:6379";
/** The lease of these tests (BERTH_BUDGET_TTL_MS; 15 s by default), short to keep the run short. */
const TTL_MS = 3_000;
const role = `berth_budget_${randomBytes(4).toString("hex")}`;

function options(connectionId: string, o: Partial<BudgetInstanceOptions> = {}): BudgetInstanceOptions {
  return {
    redisUrl: REDIS,
    prefix: `berth:test:${role}:`,
    ttlMs: TTL_MS,
    connectionId,
    role,
    maxPoolSize: 6,
    acquireTimeoutMs: 10_000,
    ...o,
  };
}

/** 60 callers spread over the instances, each making `calls` calls in turn. */
async function load(instances: BudgetInstance[], calls: number): Promise<CallOutcome[][]> {
  const byInstance: CallOutcome[][] = instances.map(() => []);
  await Promise.all(
    Array.from({ length: 60 }, async (_, caller) => {
      const i = caller % instances.length;
      for (let n = 0; n < calls; n++) byInstance[i]!.push(await instances[i]!.call());
    }),
  );
  return byInstance;
}

describe.skipIf(!ready)("one connection budget across instances (Redis)", () => {
  beforeAll(async () => {
    await createRole(role);
  });
  afterAll(async () => {
    await dropRole(role);
  });

  it("three instances, maxPoolSize 6, 60 callers: the server never sees more than 6 sessions, and every caller is served", async () => {
    const instances = [0, 1, 2].map(() => startBudgetInstance(options("spread")));
    await Promise.all(instances.map((i) => i.budget.ready()));
    const sessions = await watchSessions(role, 20);
    const started = performance.now();
    try {
      const outcomes = await load(instances, 5);
      const ms = performance.now() - started;
      const all = outcomes.flat();
      expect(all.filter((o) => !o.ok)).toEqual([]);
      expect(all).toHaveLength(300);
      expect(sessions.most).toBeLessThanOrEqual(6);
      // The budget is used, not just respected: 6 at once, and by every instance.
      expect(sessions.most).toBe(6);
      for (const o of outcomes) expect(o.length).toBe(100);
      const waits = all.map((o) => o.ms).sort((a, b) => a - b);
      console.info(
        `budget: 300 calls of pg_sleep(0.05) over 3 instances in ${Math.round(ms)} ms ` +
          `(${Math.round(300 / (ms / 1000))} calls/s; the bound is 6 / 0.05 s = 120); ` +
          `p50 ${Math.round(waits[150]!)} ms, p95 ${Math.round(waits[285]!)} ms; ` +
          `most sessions seen ${sessions.most} in ${sessions.samples.length} samples`,
      );
    } finally {
      await sessions.stop();
      await Promise.all(instances.map((i) => i.close()));
    }
  });

  it("with a tight acquire timeout, every caller is served or gets pool_exhausted within its bound, which says the budget is shared", async () => {
    const bound = 300;
    const instances = [0, 1, 2].map(() => startBudgetInstance(options("tight", { acquireTimeoutMs: bound })));
    await Promise.all(instances.map((i) => i.budget.ready()));
    const sessions = await watchSessions(role, 20);
    try {
      const all = (await load(instances, 3)).flat();
      const failed = all.filter((o) => !o.ok);
      expect(sessions.most).toBeLessThanOrEqual(6);
      expect(failed.length).toBeGreaterThan(0);
      expect(all.length - failed.length).toBeGreaterThan(0);
      for (const f of failed) {
        expect(f).toMatchObject({ kind: "pool_operation_failed", reason: "pool_exhausted" });
        // The bound, and what an event loop shared by 60 callers and three pools adds to it.
        expect(f.ms).toBeLessThan(bound + 250);
      }
      expect(
        failed.some((f) => /budget of 6 sessions is shared by every Berth instance/.test(f.message)),
      ).toBe(true);
    } finally {
      await sessions.stop();
      await Promise.all(instances.map((i) => i.close()));
    }
  });

  it("answers pool_exhausted with the budget's numbers when other instances hold all of it", async () => {
    const [a, b] = [0, 1].map(() => startBudgetInstance(options("held", { acquireTimeoutMs: 500 })));
    await Promise.all([a!.budget.ready(), b!.budget.ready()]);
    try {
      const held = await Promise.all(Array.from({ length: 6 }, () => a!.pools.acquire("held")));
      const started = performance.now();
      const err = (await b!.pools.acquire("held").catch((e: BerthError) => e)) as BerthError;
      expect(performance.now() - started).toBeLessThan(800);
      expect(err.details).toMatchObject({
        reason: "pool_exhausted",
        budget: "shared_across_instances",
        budget_held: 6,
        budget_max: 6,
        current_size: 0,
      });
      for (const h of held) await h.pool.release(h.pooled, { reset: false });
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it("an instance killed with SIGKILL mid-load: its share is reused by the others once its leases run out, and no caller of the others fails", async () => {
    const sessions = await watchSessions(role, 20);
    await until(
      "no session left from earlier tests",
      () => sessions.samples.length > 0 && sessions.now === 0,
    );
    const children = [0, 1, 2].map(() => spawnInstance(options("killed")));
    try {
      await Promise.all(children.map((c) => c.ready));
      await until("every instance serving", () => children.every((c) => c.outcomes.length >= 5), 15_000);
      await until("the budget used in full", () => sessions.now === 6, 10_000);
      const victim = children[0]!;
      victim.process.kill("SIGKILL");
      const killedAt = performance.now();
      // Its sessions die with it (the kernel closes its sockets); its permits stay until their leases end.
      await until("the dead instance's sessions gone", () => sessions.now <= 4, 5_000);
      await until("its share reused", () => sessions.now === 6, TTL_MS + 5_000);
      const reusedAfterMs = performance.now() - killedAt;
      const survivors = children.slice(1);
      const servedBefore = survivors.map((c) => c.outcomes.length);
      await until("the survivors keep serving", () =>
        survivors.every((c, i) => c.outcomes.length >= servedBefore[i]! + 20),
      );
      for (const c of survivors) c.process.stdin!.write("stop\n");
      await Promise.all(survivors.map((c) => c.done));
      const survivorCalls = survivors.flatMap((c) => c.outcomes);
      expect(survivorCalls.filter((o) => !o.ok)).toEqual([]);
      expect(sessions.most).toBeLessThanOrEqual(6);
      expect(reusedAfterMs).toBeLessThan(TTL_MS + 1_000);
      console.info(
        `budget: SIGKILL of one of three instances; its share reused ${Math.round(reusedAfterMs)} ms later ` +
          `(lease ${TTL_MS} ms, renewed every ${TTL_MS / 3} ms); survivors served ${survivorCalls.length} calls, ` +
          `none failed; most sessions seen ${sessions.most}`,
      );
    } finally {
      await sessions.stop();
      for (const c of children) if (c.process.exitCode === null) c.process.kill("SIGKILL");
    }
  }, 60_000);

  it("a Berth started with BERTH_REDIS_URL takes a permit for each session it opens and gives it back when the session closes", async () => {
    const b = await startTestBerth({
      BERTH_REDIS_URL: REDIS,
      BERTH_RATE_LIMITS: "off",
      BERTH_BUDGET_TTL_MS: String(TTL_MS),
    });
    const redis = new Redis(REDIS);
    try {
      const created = await b.api("/api/connections", {
        body: {
          name: "budgeted",
          type: "postgresql",
          server: "127.0.0.1",
          port: LOCAL.postgres.port,
          database: "test",
          username: role,
          password: "",
          sslMode: "disable",
          maxPoolSize: 2,
        },
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const key = `berth:budget:${id}:127.0.0.1:${LOCAL.postgres.port}`;
      const pools = b.berth.dataPlane.pools;
      const [s1, s2] = [await pools.acquire(id), await pools.acquire(id)];
      expect(await redis.zcard(key)).toBe(2);
      await s1.pool.destroy(s1.pooled);
      await until("the permit given back", async () => (await redis.zcard(key)) === 1);
      await s2.pool.release(s2.pooled, { reset: false });
      // Reusing an idle session takes no permit.
      const again = await pools.acquire(id);
      expect(again.pooled).toBe(s2.pooled);
      expect(await redis.zcard(key)).toBe(1);
      await again.pool.release(again.pooled, { reset: false });
      await b.close();
      expect(await redis.zcard(key)).toBe(0);
    } finally {
      await b.close();
      redis.disconnect();
    }
  });

  it("while Redis does not answer, open sessions keep serving and no new one is opened: budget_unavailable after the acquire timeout", async () => {
    const redis = await startThrowawayRedis();
    const x = startBudgetInstance(options("frozen", { redisUrl: redis.url, acquireTimeoutMs: 1_000 }));
    await x.budget.ready();
    try {
      expect((await x.call()).ok).toBe(true);
      process.kill(redis.pid, "SIGSTOP");
      const reused = await x.call();
      expect(reused.ok).toBe(true);
      expect(reused.ms).toBeLessThan(200);
      const held = await x.pools.acquire("frozen");
      const started = performance.now();
      const err = (await x.pools.acquire("frozen").catch((e: BerthError) => e)) as BerthError;
      const waited = performance.now() - started;
      expect(err.kind).toBe("unavailable");
      expect(err.details).toMatchObject({ reason: "budget_unavailable", in_use: 1 });
      expect(waited).toBeGreaterThanOrEqual(990);
      expect(waited).toBeLessThan(1_500);
      process.kill(redis.pid, "SIGCONT");
      // Redis answers again: another session opens (tries that timed out may have opened one already).
      const second = await x.pools.acquire("frozen");
      expect(second.pooled).not.toBe(held.pooled);
      await second.pool.release(second.pooled, { reset: false });
      await held.pool.release(held.pooled, { reset: false });
    } finally {
      process.kill(redis.pid, "SIGCONT");
      await x.close();
      await redis.stop();
    }
  });
});

interface ChildInstance {
  process: ChildProcess;
  outcomes: CallOutcome[];
  ready: Promise<void>;
  done: Promise<void>;
}

/** An instance as a process of its own (test/support/budget-instance-child.ts), 20 callers. */
function spawnInstance(o: BudgetInstanceOptions): ChildInstance {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/budget-instance-child.ts"], {
    env: { ...process.env, BUDGET_INSTANCE: JSON.stringify(o), BUDGET_CALLERS: "20" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const outcomes: CallOutcome[] = [];
  let readyNow: () => void = () => {};
  let doneNow: () => void = () => {};
  const ready = new Promise<void>((r) => {
    readyNow = r;
  });
  const done = new Promise<void>((r) => {
    doneNow = r;
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const m = JSON.parse(line) as { event: string } & CallOutcome;
    if (m.event === "ready") readyNow();
    else if (m.event === "done") doneNow();
    else if (m.event === "call") outcomes.push(m);
  });
  return { process: child, outcomes, ready, done };
}
