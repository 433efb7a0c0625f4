import { type BerthError, clientError } from "./errors.js";

export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 turns retries off). */
  maxAttempts?: number;
  /** The first back-off (default 100 ms); doubled each time, with full jitter. */
  initialDelayMs?: number;
  /** The longest back-off (default 2000 ms). */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export function retryPolicy(o: RetryOptions = {}): RetryPolicy {
  return {
    maxAttempts: Math.max(1, Math.floor(o.maxAttempts ?? 4)),
    initialDelayMs: Math.max(0, o.initialDelayMs ?? 100),
    maxDelayMs: Math.max(0, o.maxDelayMs ?? 2000),
  };
}

/** Berth's reasons for a statement that was sent to the database and then cut off: it may have run. */
const MAY_HAVE_RUN = new Set(["connection_lost", "cancelled_by_shutdown"]);

/**
 * Failures that prove the statement never reached the database: Berth refused or could not
 * place it (no pooled session, a rate limit, shutting down, the database not answering an open),
 * or Berth itself could not be reached. A connection lost while the statement ran is not one of
 * them, nor a statement Berth's shutdown cut short: it may have run.
 */
export function neverReachedDatabase(err: BerthError): boolean {
  if (err.code !== "UNAVAILABLE" && err.code !== "RESOURCE_EXHAUSTED") return false;
  if (err.kind === "") return err.reason === "server_unreachable";
  if (err.kind === "payload_too_large") return false;
  return !MAY_HAVE_RUN.has(err.reason);
}

/** The back-off before attempt `n + 1` (n ≥ 1), or the server's own when it said when to come back. */
export function backoffMs(policy: RetryPolicy, n: number, err: BerthError): number {
  const cap = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (n - 1));
  return Math.max(Math.random() * cap, err.retryAfterMs ?? 0);
}

/** Waits `ms`, or rejects with CANCELLED as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledBy(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledBy(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function cancelledBy(signal: AbortSignal): BerthError {
  return clientError(
    "CANCELLED",
    "cancelled",
    `The call was cancelled: ${String(signal.reason ?? "aborted")}`,
  );
}

/**
 * Runs `attempt` until it succeeds, fails in a way that is not safe to repeat, runs out of
 * attempts, or the next back-off would end past the deadline (then the last error is thrown).
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  deadline: number,
  signal: AbortSignal | undefined,
  attempt: (n: number) => Promise<T>,
  mayRetry: (err: BerthError) => boolean,
): Promise<T> {
  let last: BerthError | undefined;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const err = e as BerthError;
      // The deadline ran out in a retry (a back-off that ended late, an attempt cut short): the
      // failure that made it retry says more than "too late".
      if (last && err.code === "DEADLINE_EXCEEDED") throw last;
      if (n >= policy.maxAttempts || !mayRetry(err)) throw err;
      last = err;
      const wait = backoffMs(policy, n, err);
      if (Date.now() + wait >= deadline) throw err;
      await sleep(wait, signal);
    }
  }
}
