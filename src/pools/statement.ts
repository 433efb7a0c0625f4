import { performance } from "node:perf_hooks";
import type { Driver, QueryChunk } from "../drivers/driver.js";
import {
  BerthError,
  DeadlineExceededError,
  QueryFailedError,
  UnavailableError,
  ValidationError,
} from "../errors/berth-error.js";
import { serverGoingAway } from "../errors/mapping.js";
import type { Value } from "../gen/berth/v1/values_pb.js";
import { failed, startChildSpan } from "../observability/tracing.js";
import type { PooledSession } from "./pool-types.js";

export interface StatementInput {
  readonly sql: string;
  readonly params: readonly Value[];
  /** 0 = no limit. */
  readonly maxRows: number;
  /** 0 = the default. */
  readonly timeoutMs: number;
}

export interface StatementOptions {
  /** Aborted when the caller goes away: the statement is cancelled on the server. */
  readonly signal: AbortSignal;
  readonly defaultTimeoutMs: number;
  readonly batchBytes: number;
  /** After asking the server to cancel, how long to wait before cutting the socket instead. */
  readonly cancelGraceMs: number;
}

export interface TimedCompletion {
  durationMs: number;
}

const MAX_SQL_CHARS = 1_000_000;
const MAX_PARAMS = 65_535;
const MAX_TIMEOUT_MS = 24 * 3_600_000;

export function checkStatement(s: StatementInput): void {
  if (s.sql.trim() === "") throw ValidationError.field("statement.sql", "is required");
  if (s.sql.length > MAX_SQL_CHARS)
    throw ValidationError.field("statement.sql", `must be at most ${MAX_SQL_CHARS} characters`);
  if (s.params.length > MAX_PARAMS)
    throw ValidationError.field("statement.params", `must be at most ${MAX_PARAMS} values`);
  if (s.timeoutMs > MAX_TIMEOUT_MS)
    throw ValidationError.field("statement.timeoutMs", `must be at most ${MAX_TIMEOUT_MS} ms`);
}

/**
 * Runs one statement on a session the caller holds, yielding columns, row batches and a completion
 * (with its duration). A timeout or the caller going away cancels the statement on the server; if
 * the server cannot be reached to cancel, the session's socket is cut after a grace period so the
 * caller is never held longer than its bound. After an error, `pooled.session.healthy` tells the
 * caller whether the session may go back to the pool.
 */
export async function* runStatement(
  pooled: PooledSession,
  driver: Driver,
  statement: StatementInput,
  options: StatementOptions,
): AsyncGenerator<QueryChunk & { durationMs?: number }> {
  checkStatement(statement);
  // The statement's text stays out of the span: it can carry data, and traces leave the machine.
  const span = startChildSpan("berth.statement", { "db.system": driver.engine });
  const session = pooled.session;
  const timeoutMs = statement.timeoutMs || options.defaultTimeoutMs;
  const started = performance.now();
  let stopped: "timeout" | "cancelled" | undefined;
  let grace: NodeJS.Timeout | undefined;
  const stop = (why: "timeout" | "cancelled") => {
    if (stopped) return;
    stopped = why;
    void session.cancel();
    grace = setTimeout(() => session.destroy(), options.cancelGraceMs);
  };
  const timer = setTimeout(() => stop("timeout"), timeoutMs);
  const onAbort = () => stop("cancelled");
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of session.query(statement.sql, statement.params, {
      maxRows: statement.maxRows,
      batchBytes: options.batchBytes,
    })) {
      if (chunk.completion) {
        // Some statements end normally when cancelled (MySQL's SLEEP returns 1): still a timeout.
        if (stopped) throw new Error("statement cancelled");
        yield { ...chunk, durationMs: performance.now() - started };
      } else {
        yield chunk;
      }
    }
  } catch (err) {
    const described = describeStatementError(err, driver, pooled, stopped, timeoutMs, options.signal);
    if (span) failed(span, described);
    throw described;
  } finally {
    span?.end();
    clearTimeout(timer);
    clearTimeout(grace);
    options.signal.removeEventListener("abort", onAbort);
  }
}

function describeStatementError(
  err: unknown,
  driver: Driver,
  pooled: PooledSession,
  stopped: "timeout" | "cancelled" | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): BerthError {
  if (err instanceof BerthError) return err;
  // Stopped by Berth's own graceful stop: the caller did not cancel. Not `shutting_down`, which
  // says nothing was run: this statement ran, and may even have finished as the cancel came.
  if (stopped === "cancelled" && serverGoingAway(signal)) {
    return new UnavailableError("Berth is shutting down; the running statement was cancelled", {
      reason: "cancelled_by_shutdown",
    });
  }
  if (stopped === "timeout") {
    return new DeadlineExceededError(`The statement ran longer than ${timeoutMs} ms and was cancelled`, {
      timeout_ms: timeoutMs,
    });
  }
  if (stopped === "cancelled")
    return new BerthError("cancelled", "The caller cancelled the statement", { reason: "cancelled" });
  const f = driver.describeError(err);
  if (driver.isConnectionError(err) || !pooled.session.healthy) {
    pooled.session.destroy();
    return new UnavailableError(
      `The database connection was lost: ${f.message}`,
      { reason: "connection_lost", error_code: f.code },
      {
        cause: err,
      },
    );
  }
  return new QueryFailedError(
    f.message,
    {
      reason: f.reason === "unknown" || f.reason === "server_error" ? "query_failed" : f.reason,
      error_code: f.code,
    },
    {
      cause: err,
    },
  );
}
