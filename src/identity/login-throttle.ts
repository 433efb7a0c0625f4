import { isIPv6 } from "node:net";
import type { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import { RateLimitedError, UnavailableError } from "../errors/berth-error.js";

/** One sign-in attempt: the account named (lower-cased) and the network source it came from. */
export interface SignInAttempt {
  readonly account: string;
  readonly source: string;
}

export interface LoginThrottleOptions {
  /** Failed sign-ins of one account from one source within the window before that pair is locked. */
  limit: number;
  /** Failed sign-ins from one source, whatever names it tries, before the source is locked. */
  sourceLimit: number;
  windowMs: number;
  /** The floor of every failed sign-in's answer; the account-wide delay grows from it. */
  failureDelayMs: number;
  /** The most the account-wide delay grows to (it never becomes a lock). */
  maxDelayMs?: number;
}

/**
 * Sign-in throttling that an attacker cannot turn into a lockout of someone else:
 * - an account is locked **per source**: 100 wrong passwords from one address lock that address
 *   out of that account, not the owner signing in from another;
 * - a source is locked across names, so one address cannot try a password on many accounts;
 * - failures of an account from everywhere slow its sign-ins down progressively (a delay, never a
 *   lock), which is what guessing from many addresses meets — admins included.
 * Every attempt reserves its place before the password is checked, so parallel attempts cannot
 * overshoot a limit; a success gives the place back. An admin may clear an account's locks.
 */
export interface LoginGuard {
  readonly limit: number;
  /** Reserves the attempt; RateLimitedError when its source is locked. Answers the delay to apply to a failure. */
  begin(attempt: SignInAttempt): Promise<{ failureDelayMs: number }>;
  succeeded(attempt: SignInAttempt): Promise<void>;
  failed(attempt: SignInAttempt): Promise<void>;
  /** Lifts every lock on the account (from every source) and its account-wide delay. */
  clear(account: string): Promise<void>;
}

/** A counter of attempts per key in a fixed window, in memory or in Redis (same library, same semantics). */
type Counters = (keyPrefix: string, points: number) => RateLimiterAbstract;

/** Keeps an account's "generation": clearing bumps it, so every per-source key of the account is left behind at once. */
interface Generations {
  get(account: string): Promise<number>;
  bump(account: string): Promise<void>;
}

/** The address a caller's failures are counted under: an IPv4 address, or an IPv6 /64 (one host's usual share). */
export function sourceOf(peer: string): string {
  let host = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) host = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(host)) host = host.slice(0, host.lastIndexOf(":"));
  host = host.replace(/^::ffff:(?=[\d.]+$)/, "");
  if (!isIPv6(host)) return host || "unknown";
  const groups = expandIPv6(host);
  return `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = "", tail = ""] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = address.includes("::") ? Array(8 - h.length - t.length).fill("0") : [];
  return [...h, ...fill, ...t].map((g) => g.toLowerCase());
}

function createLoginGuard(
  counters: Counters,
  generations: Generations,
  options: LoginThrottleOptions,
  closed: (err: unknown) => never,
): LoginGuard {
  const pairs = counters("berth_login_pair", options.limit);
  const sources = counters("berth_login_source", options.sourceLimit);
  // Counts only; its points are never the limit of anything (the delay grows instead).
  const accounts = counters("berth_login_account", Number.MAX_SAFE_INTEGER);
  const maxDelayMs = options.maxDelayMs ?? 5_000;

  const pairKey = async (a: SignInAttempt) => `${a.account}#${await generations.get(a.account)}|${a.source}`;
  const refused = (res: unknown, message: string): never => {
    if (!(res instanceof RateLimiterRes)) return closed(res);
    throw new RateLimitedError(message, res.msBeforeNext, { reason: "too_many_failed_logins" });
  };
  /** Past the limit, each further failure of the account (from anywhere) doubles the delay, up to its cap. */
  const delayFor = (failures: number) => {
    const over = failures - options.limit;
    if (over < 0) return options.failureDelayMs;
    return Math.min(maxDelayMs, Math.max(options.failureDelayMs, 250) * 2 ** Math.min(over, 16));
  };

  return {
    limit: options.limit,
    async begin(a) {
      const key = await pairKey(a).catch(closed);
      await pairs
        .consume(key)
        .catch((res) =>
          refused(
            res,
            `Too many failed sign-ins for this account from your address (${options.limit} within the window)`,
          ),
        );
      await sources.consume(a.source).catch(async (res) => {
        await pairs.reward(key, 1).catch(() => {});
        return refused(
          res,
          `Too many failed sign-ins from your address (${options.sourceLimit} within the window)`,
        );
      });
      const failures = (await accounts.get(a.account).catch(closed))?.consumedPoints ?? 0;
      return { failureDelayMs: delayFor(failures) };
    },
    async succeeded(a) {
      // The reserved places go back: a person who signs in is not counted against anyone.
      const key = await pairKey(a).catch(closed);
      await Promise.all([pairs.delete(key), sources.reward(a.source, 1)]).catch(closed);
    },
    async failed(a) {
      await accounts.penalty(a.account, 1).catch(closed);
    },
    async clear(account) {
      await Promise.all([generations.bump(account), accounts.delete(account)]).catch(closed);
    },
  };
}

export function memoryLoginGuard(options: LoginThrottleOptions): LoginGuard {
  const duration = Math.ceil(options.windowMs / 1000);
  const generation = new Map<string, number>();
  return createLoginGuard(
    (keyPrefix, points) => new RateLimiterMemory({ keyPrefix, points, duration }),
    {
      get: async (account) => generation.get(account) ?? 0,
      bump: async (account) => {
        generation.set(account, (generation.get(account) ?? 0) + 1);
        // Bounded memory: forget the oldest cleared accounts when very many were cleared.
        if (generation.size > 100_000) generation.delete(generation.keys().next().value!);
      },
    },
    options,
    (err) => {
      throw err;
    },
  );
}

/**
 * Failed sign-ins counted in Redis, so that every instance sees them. If Redis cannot be reached,
 * sign-in fails closed (UNAVAILABLE): an attacker must not get a fresh budget by knocking Redis over.
 */
export function redisLoginGuard(redis: Redis, options: LoginThrottleOptions): LoginGuard {
  const duration = Math.ceil(options.windowMs / 1000);
  const generationKey = (account: string) => `berth_login_generation:${account}`;
  return createLoginGuard(
    (keyPrefix, points) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, rejectIfRedisNotReady: true }),
    {
      get: async (account) => Number((await redis.get(generationKey(account))) ?? 0),
      bump: async (account) => {
        // Outlives every lock it leaves behind (they expire with the window).
        await redis
          .multi()
          .incr(generationKey(account))
          .pexpire(generationKey(account), options.windowMs * 2)
          .exec();
      },
    },
    options,
    (err) => {
      throw new UnavailableError(
        "Sign-in is unavailable: the shared sign-in throttle (Redis) cannot be reached",
        { reason: "throttle_unavailable" },
        { cause: err },
      );
    },
  );
}
