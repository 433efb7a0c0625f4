import type { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { UnavailableError } from "../errors/berth-error.js";

/**
 * Failed sign-ins per account in a sliding window, in memory. Past the limit the account is locked
 * until its oldest failure leaves the window — for the right password too, or guessing would simply
 * continue. (Shared across instances through Redis with the rate-limit work.)
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: { limit: number; windowMs: number; now?: () => number }) {
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds until the account may try again, or 0 when it may try now. */
  lockedForMs(account: string): number {
    const recent = this.#recent(account);
    if (recent.length < this.#limit) return 0;
    return recent[recent.length - this.#limit]! + this.#windowMs - this.#now();
  }

  recordFailure(account: string): void {
    const recent = this.#recent(account);
    recent.push(this.#now());
    this.#failures.set(account, recent);
    // Bounded memory: forget the oldest accounts when very many are being tried.
    if (this.#failures.size > 100_000) this.#failures.delete(this.#failures.keys().next().value!);
  }

  recordSuccess(account: string): void {
    this.#failures.delete(account);
  }

  get limit(): number {
    return this.#limit;
  }

  #recent(account: string): number[] {
    const since = this.#now() - this.#windowMs;
    return (this.#failures.get(account) ?? []).filter((t) => t > since);
  }
}

/** What sign-in needs from a throttle; in memory or in Redis. */
export interface LoginGuard {
  readonly limit: number;
  lockedForMs(account: string): Promise<number>;
  recordFailure(account: string): Promise<void>;
  recordSuccess(account: string): Promise<void>;
}

export function memoryLoginGuard(throttle: LoginThrottle): LoginGuard {
  return {
    limit: throttle.limit,
    lockedForMs: async (a) => throttle.lockedForMs(a),
    recordFailure: async (a) => throttle.recordFailure(a),
    recordSuccess: async (a) => throttle.recordSuccess(a),
  };
}

/**
 * Failed sign-ins counted in Redis, so that every instance sees them. If Redis cannot be reached,
 * sign-in fails closed (UNAVAILABLE): an attacker must not get a fresh budget by knocking Redis over.
 */
export function redisLoginGuard(redis: Redis, options: { limit: number; windowMs: number }): LoginGuard {
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: "berth_login_failures",
    points: options.limit,
    duration: Math.ceil(options.windowMs / 1000),
    rejectIfRedisNotReady: true,
  });
  const closed = (err: unknown): never => {
    throw new UnavailableError(
      "Sign-in is unavailable: the shared sign-in throttle (Redis) cannot be reached",
      {
        reason: "throttle_unavailable",
      },
      { cause: err },
    );
  };
  return {
    limit: options.limit,
    async lockedForMs(account) {
      const state = await limiter.get(account).catch(closed);
      return state && state.consumedPoints >= options.limit ? state.msBeforeNext : 0;
    },
    async recordFailure(account) {
      await limiter.penalty(account, 1).catch(closed);
    },
    async recordSuccess(account) {
      await limiter.delete(account).catch(closed);
    },
  };
}
