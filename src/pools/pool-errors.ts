import { BerthError, UnavailableError } from "../errors/berth-error.js";
import type { BudgetFull, NoPermit } from "./budget.js";
import type { PoolStatsSnapshot } from "./pool-types.js";
import { NOT_ANSWERING, notAnswering } from "./unreachable.js";

/**
 * RFC 002's pool_exhausted. With a budget shared across instances (`shared`), the sessions in use
 * may be other instances': the message says so, with the numbers, so that nobody goes looking for
 * six busy sessions on an instance that holds two.
 */
export class PoolExhaustedError extends BerthError {
  constructor(stats: PoolStatsSnapshot, waitedMs: number, shared?: BudgetFull) {
    const within = `Unable to get a session from the pool within ${Math.round(waitedMs)} ms`;
    const counts = {
      reason: "pool_exhausted",
      current_size: stats.size,
      max_size: stats.maxSize,
      waiting: stats.waiting,
    };
    if (!shared) {
      super("pool_operation_failed", `${within}: all ${stats.maxSize} are in use`, counts);
      return;
    }
    super(
      "pool_operation_failed",
      `${within}: the connection's budget of ${shared.max} sessions is shared by every Berth instance, and all ${shared.held} are held (${stats.size} by this instance)`,
      { ...counts, budget: "shared_across_instances", budget_held: shared.held, budget_max: shared.max },
    );
  }
}

/** The shared budget could not be asked (Redis down): no new session, by choice (see README). */
export function budgetUnreachable(stats: PoolStatsSnapshot, waitedMs: number): BerthError {
  return new UnavailableError(
    `No session within ${Math.round(waitedMs)} ms: every session this instance held was busy, and no new one may be opened while the connection budget shared by the Berth instances (in Redis) cannot be reached`,
    {
      reason: BUDGET_UNAVAILABLE,
      current_size: stats.size,
      in_use: stats.inUse,
      max_size: stats.maxSize,
      waiting: stats.waiting,
    },
  );
}

export const BUDGET_UNAVAILABLE = "budget_unavailable";

/** The pool's own bound on an open fired before the driver's. */
export class OpenTimedOut extends Error {
  readonly code = "ETIMEDOUT";
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * Why a caller got no session in time. Slots held by opens that have not completed, an idle
 * session that did not answer its ping, or opens that last failed for want of an answer mean the
 * database is not answering (UNAVAILABLE); only a pool whose sessions are all busy with other
 * callers' work is exhausted.
 */
export function whyNoSession(at: {
  stats: PoolStatsSnapshot;
  waitedMs: number;
  host: string;
  connectTimeoutMs: number;
  /** The last open's failure, if it came while this caller waited. */
  lastOpenFailure: BerthError | undefined;
  /** An idle session did not answer its ping. */
  unanswered: boolean;
  /** The shared connection budget refused a session while this caller waited (full, or unreachable). */
  budget?: NoPermit["why"] | undefined;
}): BerthError {
  const { stats, host } = at;
  const waited = Math.round(at.waitedMs);
  const last = at.lastOpenFailure;
  const counts = {
    opening: stats.opening,
    in_use: stats.inUse,
    max_size: stats.maxSize,
    waiting: stats.waiting,
  };
  if (stats.opening > 0)
    return notAnswering(
      host,
      `no session within ${waited} ms; ${stats.opening} of the pool's ${stats.maxSize} sessions are still being opened (connect timeout ${at.connectTimeoutMs} ms)`,
      counts,
    );
  if (at.unanswered)
    return notAnswering(host, `an idle session did not answer its ping within ${waited} ms`, counts);
  if (last?.details.reason === NOT_ANSWERING)
    return notAnswering(host, `no session within ${waited} ms; the last open failed: ${last.message}`, {
      ...counts,
      last_open_reason: String(last.details.reason),
    });
  // The last open failed otherwise (refused, reset, sign-in): that, not exhaustion, is why.
  if (last && stats.inUse < stats.maxSize) return last;
  if (at.budget === "unreachable") return budgetUnreachable(stats, at.waitedMs);
  return new PoolExhaustedError(stats, at.waitedMs, at.budget);
}

/** Failures of a pool operation that the RFC's pool_operation_failed body reports (others keep their kind). */
const POOL_FAILURE_KINDS: ReadonlySet<string> = new Set([
  "unavailable",
  "connection_operation_failed",
  "deadline_exceeded",
]);

/**
 * A failure of a pool operation (reset, initialization) in the RFC §9.3 shape: error
 * `pool_operation_failed`, with the underlying reason and, when known, the pool's size and bound.
 * Refusals that are not the pool's (not found, denied, TLS policy, a damaged secret) and server
 * faults keep their own kind.
 */
export function poolOperationFailed(err: unknown, stats?: PoolStatsSnapshot): BerthError {
  if (!(err instanceof BerthError)) return err as BerthError;
  if (err.kind === "pool_operation_failed" || !POOL_FAILURE_KINDS.has(err.kind)) return err;
  return new BerthError(
    "pool_operation_failed",
    `Unable to manage connection pool: ${err.message}`,
    {
      ...err.details,
      reason: String(err.details.reason ?? err.kind),
      ...(stats ? { current_size: stats.size, max_size: stats.maxSize } : {}),
    },
    { cause: err },
  );
}

/** Asked of a pool that has closed (or closed while a session was being opened for the caller). */
export function poolClosed(): UnavailableError {
  return new UnavailableError("The connection's pool is closed", { reason: "pool_closed" });
}

/**
 * What a caller still queued hears when its pool closes: `pool_retired` when the connection changed
 * and a successor pool takes over (PoolManager.acquire queues it there), else `pool_closed`.
 */
export function waitEndedByClose(why: "closed" | "retired"): UnavailableError {
  return why === "retired"
    ? new UnavailableError("The connection changed while waiting for a session", { reason: "pool_retired" })
    : new UnavailableError("The connection's pool was closed", { reason: "pool_closed" });
}
