import type { Interceptor } from "@connectrpc/connect";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "../errors/berth-error.js";
import { principalKey } from "../identity/principal.js";

interface Rule {
  readonly name: string;
  readonly points: number;
  readonly durationSec: number;
}

/**
 * RFC 002 §9.2, per principal (a user's id, or `service:<token id>`), never per connection: a
 * budget spent on one connection is spent on all. Methods sharing a rule share its budget.
 * Validation is a lighter connection test (it resolves and opens a socket to the target without
 * signing in), so it spends the tests' budget: otherwise it would be a free network probe.
 * A test of an unsaved configuration is TestConnection too, and counts the same way.
 */
const HOUR = 3600;
const MINUTE = 60;
const RULES: Readonly<Record<string, Rule>> = {
  "berth.v1.ConnectionService/CreateConnection": { name: "connection_create", points: 10, durationSec: HOUR },
  "berth.v1.ConnectionService/TestConnection": { name: "connection_test", points: 30, durationSec: HOUR },
  "berth.v1.ConnectionService/ValidateConnection": { name: "connection_test", points: 30, durationSec: HOUR },
  "berth.v1.ConnectionService/ResetPool": { name: "pool_reset", points: 5, durationSec: HOUR },
  "berth.v1.AccessService/GrantAccess": { name: "access_change", points: 20, durationSec: HOUR },
  "berth.v1.AccessService/RevokeAccess": { name: "access_change", points: 20, durationSec: HOUR },
  "berth.v1.ConnectionService/ListConnections": { name: "connection_list", points: 60, durationSec: MINUTE },
  "berth.v1.ConnectionService/GetConnectionStatus": { name: "status", points: 120, durationSec: MINUTE },
  "berth.v1.ConnectionService/WatchConnectionStatus": { name: "pool_stats", points: 60, durationSec: MINUTE },
  // Not in the RFC: each bundle call derives a key with scrypt (128 MiB, ~0.3 s), and an import
  // creates and tests many connections at once.
  "berth.v1.BundleService/ExportBundle": { name: "bundle", points: 20, durationSec: HOUR },
  "berth.v1.BundleService/ImportBundle": { name: "bundle", points: 20, durationSec: HOUR },
};

type Limiter = RateLimiterMemory | RateLimiterRedis;

/** The rules a service charges itself, for work one call does many times over (a bundle import). */
export type ChargedRule = "connection_test" | "connection_create";

/**
 * Points a service takes from a principal's budget itself. An import tests and creates many
 * connections in one call: it pays for each as if it were its own TestConnection or CreateConnection,
 * so that the one point the interceptor takes is not a way around those limits (README, Bundles).
 */
export interface RateBudget {
  /**
   * Takes every point asked for, or none: when any rule's budget is short, what was taken is given
   * back and RateLimitedError says how many were needed and how many remain. Answers a refund.
   */
  charge(principalId: string, wants: Partial<Record<ChargedRule, number>>): Promise<() => Promise<void>>;
}

function limitersFor(redis: Redis | undefined): Map<string, Limiter> {
  const limiters = new Map<string, Limiter>();
  for (const rule of Object.values(RULES)) {
    if (limiters.has(rule.name)) continue;
    const memory = new RateLimiterMemory({
      points: rule.points,
      duration: rule.durationSec,
      keyPrefix: `berth_rl_${rule.name}`,
    });
    limiters.set(
      rule.name,
      redis
        ? new RateLimiterRedis({
            storeClient: redis,
            points: rule.points,
            duration: rule.durationSec,
            keyPrefix: `berth_rl_${rule.name}`,
            rejectIfRedisNotReady: true,
            insuranceLimiter: memory,
          })
        : memory,
    );
  }
  return limiters;
}

/** The RFC's rate limits: the interceptor, and the same budgets for services that charge themselves. */
export function createRateLimits(options: { redis?: Redis | undefined }): {
  interceptor: Interceptor;
  budget: RateBudget;
} {
  const limiters = limitersFor(options.redis);
  return { interceptor: interceptorOver(limiters), budget: budgetOver(limiters) };
}

/**
 * The RFC's rate limits. In memory by default; with Redis, shared by every instance — and if Redis
 * is unreachable, each instance falls back to its own memory (rate-limiter-flexible's insurance
 * limiter) rather than refusing everything or letting everything through.
 */
export function rateLimitInterceptor(options: { redis?: Redis | undefined }): Interceptor {
  return createRateLimits(options).interceptor;
}

function ruleNamed(name: ChargedRule): Rule {
  return Object.values(RULES).find((r) => r.name === name)!;
}

function budgetOver(limiters: Map<string, Limiter>): RateBudget {
  return {
    async charge(principalId, wants) {
      const taken: [Limiter, number][] = [];
      const refund = async () => {
        for (const [limiter, points] of taken.splice(0)) await limiter.reward(principalId, points);
      };
      for (const [name, points] of Object.entries(wants) as [ChargedRule, number][]) {
        if (!points) continue;
        const limiter = limiters.get(name)!;
        try {
          await limiter.consume(principalId, points);
          taken.push([limiter, points]);
        } catch (rejected) {
          if (!(rejected instanceof RateLimiterRes)) throw rejected;
          // consume counted the points even though it refused them: they are given back too.
          await limiter.reward(principalId, points);
          await refund();
          throw shortBudget(ruleNamed(name), points, rejected);
        }
      }
      return refund;
    },
  };
}

function shortBudget(rule: Rule, needed: number, rejected: RateLimiterRes): RateLimitedError {
  const remaining = Math.max(0, rule.points - (rejected.consumedPoints - needed));
  return new RateLimitedError(
    `This needs ${needed} points of the ${rule.name.replace("_", " ")} budget (${rule.points} per ${window(rule)}), and ${remaining} remain: nothing was done`,
    rejected.msBeforeNext,
    {
      reason: "rate_limited",
      limit: rule.points,
      needed,
      remaining,
      rule: rule.name,
      reset_seconds: Math.ceil(rejected.msBeforeNext / 1000),
    },
  );
}

function interceptorOver(limiters: Map<string, Limiter>): Interceptor {
  return (next) => async (req) => {
    const rule = RULES[`${req.service.typeName}/${req.method.name}`];
    const principal = req.contextValues.get(principalKey);
    if (!rule || !principal) return next(req);
    let state: RateLimiterRes;
    try {
      state = await limiters.get(rule.name)!.consume(principal.userId);
    } catch (rejected) {
      if (!(rejected instanceof RateLimiterRes)) throw rejected;
      throw new RateLimitedError(
        `Rate limit for ${rule.name.replace("_", " ")} reached (${rule.points} per ${window(rule)})`,
        rejected.msBeforeNext,
        {
          reason: "rate_limited",
          limit: rule.points,
          remaining: 0,
          reset_seconds: Math.ceil(rejected.msBeforeNext / 1000),
        },
      );
    }
    const res = await next(req);
    res.header.set("x-ratelimit-limit", String(rule.points));
    res.header.set("x-ratelimit-remaining", String(Math.max(0, state.remainingPoints)));
    res.header.set("x-ratelimit-reset", String(Math.ceil(state.msBeforeNext / 1000)));
    return res;
  };
}

function window(rule: Rule): string {
  return rule.durationSec === HOUR ? "hour" : "minute";
}
