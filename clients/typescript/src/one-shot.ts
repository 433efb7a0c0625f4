import type { Client } from "@connectrpc/connect";
import { clientError, toBerthError } from "./errors.js";
import { type BrokerService, type ExecuteResponse, Intent } from "./gen/berth/v1/broker_service_pb.js";
import { MessageRowStream, type QueryResult, ResultAssembly, type RowStream } from "./results.js";
import { neverReachedDatabase, type RetryPolicy, withRetry } from "./retry.js";
import { type Row, type SqlParam, toValue } from "./values.js";

export interface CallOptions {
  /**
   * The call's deadline in ms, retries included (default: the client's `timeoutMs`). When it
   * passes, the call fails with DEADLINE_EXCEEDED and Berth cancels the statement on the database.
   */
  timeoutMs?: number;
  /** Cancels the call (and the statement on the database). */
  signal?: AbortSignal;
}

export interface StatementOptions extends CallOptions {
  /** Stop after this many rows; the completion then says `truncated` (default: no limit). */
  maxRows?: number;
}

export interface QueryOptions extends StatementOptions {
  /** "read" may be served by a replica; "write" (the default) by the primary. */
  intent?: "read" | "write";
}

export interface OneShotContext {
  broker: Client<typeof BrokerService>;
  timeoutMs: number;
  retry: RetryPolicy;
}

/** The server's limit for one statement's timeout. */
const MAX_TIMEOUT_MS = 24 * 3_600_000;

export function checkedTimeout(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMEOUT_MS) {
    throw clientError(
      "INVALID_ARGUMENT",
      "invalid_timeout",
      `timeoutMs must be between 1 and ${MAX_TIMEOUT_MS}`,
    );
  }
  return Math.ceil(ms);
}

export function checkedConnection(connection: string): string {
  if (typeof connection !== "string" || connection === "") {
    throw clientError("INVALID_ARGUMENT", "invalid_connection", "Give the connection's id");
  }
  return connection;
}

/** A row limit for the wire (0 = none). */
export function checkedMaxRows(n: number | undefined): bigint {
  if (n === undefined) return 0n;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw clientError("INVALID_ARGUMENT", "invalid_max_rows", "maxRows must be a non-negative integer");
  }
  return BigInt(n);
}

export function intentOf(intent: "read" | "write" | undefined): Intent {
  if (intent === undefined || intent === "write") return Intent.WRITE;
  if (intent === "read") return Intent.READ;
  throw clientError("INVALID_ARGUMENT", "invalid_intent", `intent is "read" or "write"`);
}

export function deadlineError(timeoutMs: number) {
  return clientError("DEADLINE_EXCEEDED", "timeout", `The call did not finish within ${timeoutMs} ms`);
}

/**
 * One statement on a fresh pooled session (BrokerService.Execute), as its messages. Attempts are
 * repeated with back-off only while nothing has been received and the failure proves the
 * statement never reached the database; the deadline covers every attempt.
 */
function executeMessages(
  ctx: OneShotContext,
  connection: string,
  sql: string,
  params: readonly SqlParam[],
  o: QueryOptions,
): () => AsyncIterator<ExecuteResponse> {
  const connectionId = checkedConnection(connection);
  const timeoutMs = checkedTimeout(o.timeoutMs ?? ctx.timeoutMs);
  const values = params.map(toValue);
  const intent = intentOf(o.intent);
  const maxRows = checkedMaxRows(o.maxRows);
  return async function* () {
    const deadline = Date.now() + timeoutMs;
    const abort = new AbortController();
    const onAbort = () => abort.abort(o.signal?.reason);
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    let call: AsyncIterator<ExecuteResponse> | undefined;
    const attempt = async () => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw deadlineError(timeoutMs);
      call = ctx.broker
        .execute(
          {
            target: { case: "connectionId", value: connectionId },
            statement: { sql, params: values, maxRows, timeoutMs: remaining },
            intent,
          },
          { signal: abort.signal, timeoutMs: remaining },
        )
        [Symbol.asyncIterator]();
      try {
        return await call.next();
      } catch (e) {
        throw toBerthError(e, abort.signal);
      }
    };
    try {
      let next = await withRetry(ctx.retry, deadline, abort.signal, attempt, neverReachedDatabase);
      while (!next.done) {
        yield next.value;
        try {
          next = await call!.next();
        } catch (e) {
          throw toBerthError(e, abort.signal);
        }
      }
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
      // Ends the call when the reader stopped early, which cancels the statement on the server;
      // one more read lets the transport see it and clear the call's deadline timer.
      abort.abort();
      call?.next().catch(() => undefined);
    }
  };
}

export async function query<R = Row>(
  ctx: OneShotContext,
  connection: string,
  sql: string,
  params: readonly SqlParam[] = [],
  options: QueryOptions = {},
): Promise<QueryResult<R>> {
  const messages = executeMessages(ctx, connection, sql, params, options)();
  const assembly = new ResultAssembly();
  const rows: R[] = [];
  for (let m = await messages.next(); !m.done; m = await messages.next()) {
    for (const row of assembly.accept(m.value)) rows.push(row as R);
  }
  return assembly.result(rows);
}

export function stream<R = Row>(
  ctx: OneShotContext,
  connection: string,
  sql: string,
  params: readonly SqlParam[] = [],
  options: QueryOptions = {},
): RowStream<R> {
  return new MessageRowStream<R>(executeMessages(ctx, connection, sql, params, options));
}
