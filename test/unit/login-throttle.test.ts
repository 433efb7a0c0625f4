import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimitedError } from "../../src/errors/berth-error.js";
import {
  type LoginGuard,
  type LoginThrottleOptions,
  memoryLoginGuard,
  redisLoginGuard,
  sourceOf,
} from "../../src/identity/login-throttle.js";
import { LOCAL, serviceAvailable } from "../support/services.js";

const options: LoginThrottleOptions = { limit: 3, sourceLimit: 5, windowMs: 60_000, failureDelayMs: 0 };

/** One failed attempt, as sign-in makes it: reserve, then count the failure. */
async function fail(guard: LoginGuard, account: string, source: string): Promise<unknown> {
  try {
    await guard.begin({ account, source });
  } catch (err) {
    return err;
  }
  await guard.failed({ account, source });
  return undefined;
}

const redisUp = await serviceAvailable("redis");
let redis: Redis | undefined;
beforeAll(() => {
  if (redisUp) redis = new Redis({ ...LOCAL.redis, keyPrefix: `t${Date.now()}:` });
});
afterAll(() => redis?.disconnect());

// The same behaviour in memory and in the real Redis (fresh names per run: Redis keeps counters).
const guards: [string, () => LoginGuard][] = [["memory", () => memoryLoginGuard(options)]];
if (redisUp) guards.push(["redis", () => redisLoginGuard(redis!, options)]);

describe.each(guards)("sign-in throttle (%s)", (_kind, make) => {
  const name = (s: string) => `${s}-${Math.random().toString(36).slice(2, 8)}`;

  it("locks an account from one source without locking it from another", async () => {
    const guard = make();
    const ann = name("ann");
    for (let i = 0; i < 3; i++) expect(await fail(guard, ann, "10.0.0.1")).toBeUndefined();
    const locked = await fail(guard, ann, "10.0.0.1");
    expect(locked).toBeInstanceOf(RateLimitedError);
    expect((locked as RateLimitedError).retryAfterMs).toBeGreaterThan(50_000);
    await expect(guard.begin({ account: ann, source: "10.0.0.2" })).resolves.toBeDefined();
  });

  it("locks a source that tries many names", async () => {
    const guard = make();
    for (let i = 0; i < 5; i++) expect(await fail(guard, name("n"), "10.0.0.3")).toBeUndefined();
    const refused = await fail(guard, name("n"), "10.0.0.3");
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).message).toMatch(/from your address/);
  });

  it("lets no parallel burst past the limit", async () => {
    const guard = make();
    const bo = name("bo");
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => fail(guard, bo, "10.0.0.4")));
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(3);
  });

  it("gives the reserved place back on success, and an admin clears every lock of an account", async () => {
    const guard = make();
    const cy = name("cy");
    for (let i = 0; i < 10; i++) {
      await guard.begin({ account: cy, source: "10.0.0.5" });
      await guard.succeeded({ account: cy, source: "10.0.0.5" });
    }
    for (let i = 0; i < 3; i++) await fail(guard, cy, "10.0.0.6");
    expect(await fail(guard, cy, "10.0.0.6")).toBeInstanceOf(RateLimitedError);
    await guard.clear(cy);
    expect(await fail(guard, cy, "10.0.0.6")).toBeUndefined();
  });

  it("slows an account's failures from everywhere progressively, never locking it", async () => {
    const guard = make();
    const dee = name("dee");
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const source = `10.1.0.${i}`;
      delays.push((await guard.begin({ account: dee, source })).failureDelayMs);
      await guard.failed({ account: dee, source });
    }
    expect(delays.slice(0, 3)).toEqual([0, 0, 0]);
    expect(delays[3]).toBeGreaterThan(0);
    expect(delays[5]).toBeGreaterThan(delays[4]!);
    expect(delays[4]).toBeGreaterThan(delays[3]!);
  });
});

describe("source of a peer", () => {
  it("counts an IPv4 peer by address and an IPv6 peer by its /64", () => {
    expect(sourceOf("127.0.0.2")).toBe("127.0.0.2");
    expect(sourceOf("ipv4:10.0.0.1:5555")).toBe("10.0.0.1");
    expect(sourceOf("::ffff:10.0.0.9")).toBe("10.0.0.9");
    expect(sourceOf("2001:db8:1:2:aa::1")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("ipv6:[2001:db8:1:2::5]:443")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("")).toBe("unknown");
  });
});
