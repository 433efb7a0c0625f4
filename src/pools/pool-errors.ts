import { BerthError } from "../errors/berth-error.js";
import type { PoolStatsSnapshot } from "./pool-types.js";
import { NOT_ANSWERING, notAnswering } from "./unreachable.js";

export class PoolExhaustedError extends BerthError {
  constructor(stats: PoolStatsSnapshot, waitedMs: number) {
    super(
      "pool_operation_failed",
      `Unable to get a session from the pool within ${Math.round(waitedMs)} ms: all ${stats.maxSize} are in use`,
      { reason: "pool_exhausted", current_size: stats.size, max_size: stats.maxSize, waiting: stats.waiting },
    );
  }
}

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
  return new PoolExhaustedError(stats, at.waitedMs);
}
