import type { Redis } from "ioredis";
import { type LoginGuard, memoryLoginGuard, redisLoginGuard } from "../identity/login-throttle.js";
import { RedisSessionBudget } from "../limits/connection-budget.js";
import type { Logger } from "../observability/logger.js";
import type { CoreSettings } from "./core-settings.js";

// The limits that are per instance without Redis and shared by every instance with it.

/**
 * With Redis, one budget of sessions per connection and host shared by every instance (README: "One
 * connection budget across instances"); without it, each pool's maxPoolSize is the bound, at no cost.
 */
export function sharedBudget(settings: CoreSettings, log: Logger): RedisSessionBudget | undefined {
  if (!settings.redisUrl) return undefined;
  return new RedisSessionBudget({
    redisUrl: settings.redisUrl,
    ttlMs: settings.budgetTtlMs ?? 15_000,
    commandTimeoutMs: settings.redisCommandTimeoutMs ?? 300,
    onError: (err, what) => log.warn({ error: (err as Error).message }, `${what} failed`),
  });
}

/** Failed sign-ins counted in Redis when it is there, so that a lockout holds on every instance. */
export function loginGuardFor(settings: CoreSettings, redis: Redis | undefined): LoginGuard {
  const options = {
    limit: settings.loginFailureLimit,
    sourceLimit: settings.loginSourceFailureLimit,
    windowMs: settings.loginFailureWindowMs,
    failureDelayMs: settings.loginFailureDelayMs,
  };
  return redis ? redisLoginGuard(redis, options) : memoryLoginGuard(options);
}
