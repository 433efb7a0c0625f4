import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import { startThrowawayRedis } from "../support/throwaway-redis.js";

/**
 * A Redis that keeps its connections open but never answers (SIGSTOP) must not hang Berth: every
 * command gives up after BERTH_REDIS_COMMAND_TIMEOUT_MS (300 ms), sign-in fails closed, the other
 * limits fall back to memory, and /readyz says not ready.
 */
let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let b: TestBerth;
beforeAll(async () => {
  redis = await startThrowawayRedis();
  b = await startTestBerth({ BERTH_REDIS_URL: redis.url, BERTH_RATE_LIMITS: "rfc" });
});
afterAll(async () => {
  if (redis) process.kill(redis.pid, "SIGCONT");
  await b?.close();
  await redis?.stop();
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe("Redis frozen with SIGSTOP", () => {
  it("reports Redis in /readyz while it answers", async () => {
    const ready = await b.api("/readyz", { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: "ready",
      checks: { store: "ok", keys: "ok", redis: "ok" },
      checked: { redis: { state: "ok", what: "PING to Redis" } },
    });
    expect(ready.body.notChecked).toBeUndefined();
  });

  it("answers sign-in 503 and listing 200, each within 1 s; /readyz says not ready", async () => {
    process.kill(redis.pid, "SIGSTOP");
    try {
      const signIn = await timed(() =>
        b.api("/api/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD }, token: null }),
      );
      expect(signIn.value.status).toBe(503);
      expect(signIn.value.body.details.reason).toBe("throttle_unavailable");
      expect(signIn.ms).toBeLessThan(1_000);

      const list = await timed(() => b.api("/api/connections"));
      expect(list.value.status).toBe(200);
      expect(list.ms).toBeLessThan(1_000);

      const ready = await timed(() => b.api("/readyz", { token: null }));
      expect(ready.value.status).toBe(503);
      expect(ready.value.body.status).toBe("not_ready");
      expect(ready.value.body.checks.redis).not.toBe("ok");
      // Redis's own command timeout (failing) or /readyz's bound (timeout), whichever comes first.
      expect(ready.value.body.checked.redis).toMatchObject({
        state: expect.stringMatching(/^(failing|timeout)$/),
        what: "PING to Redis",
      });
      expect(ready.value.body.checks.store).toBe("ok");
      expect(ready.ms).toBeLessThan(1_500);
    } finally {
      process.kill(redis.pid, "SIGCONT");
    }
  });
});
