import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RedisSessionBudget } from "../../src/limits/connection-budget.js";
import { serviceAvailable } from "../support/services.js";
import { startThrowawayRedis } from "../support/throwaway-redis.js";
import { until } from "../support/waits.js";

/**
 * A take of the shared connection budget whose answer comes after the command timeout (Redis slow,
 * or the instance's event loop lagging past it) may still have run in Redis. Its permit must not stay
 * held for a whole lease by nobody: under load that starved whole instances past their acquire
 * timeout (pool_exhausted with the budget "held" and no session open for it).
 */
const ready = await serviceAvailable("redis");

describe.skipIf(!ready)("a budget take that times out", () => {
  it("gives its permit back once Redis answers, long before the lease would run out", async () => {
    const redis = await startThrowawayRedis();
    const TTL_MS = 60_000;
    const budget = new RedisSessionBudget({ redisUrl: redis.url, ttlMs: TTL_MS, commandTimeoutMs: 300 });
    const raw = new Redis(redis.url);
    try {
      await budget.ready();
      const key = { connectionId: "late", host: "127.0.0.1:5432" };
      const name = "berth:budget:late:127.0.0.1:5432";
      process.kill(redis.pid, "SIGSTOP");
      // Sent, but answered only after the timeout: Redis runs it once it is thawed.
      await expect(budget.take(key, 6)).rejects.toThrow(/timed out/i);
      process.kill(redis.pid, "SIGCONT");
      const started = performance.now();
      await until("the late take's permit given back", async () => (await raw.zcard(name)) === 0, 5_000);
      expect(performance.now() - started).toBeLessThan(TTL_MS / 10);
      // And the budget works as before.
      const taken = await budget.take(key, 6);
      expect("permit" in taken).toBe(true);
      expect(await raw.zcard(name)).toBe(1);
      if ("permit" in taken) taken.permit.release();
      await until("given back", async () => (await raw.zcard(name)) === 0);
    } finally {
      process.kill(redis.pid, "SIGCONT");
      raw.disconnect();
      await budget.close();
      await redis.stop();
    }
  });
});
