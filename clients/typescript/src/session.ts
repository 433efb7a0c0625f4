import { clientError, toBerthError } from "./errors.js";
import { IsolationLevel } from "./gen/berth/v1/broker_service_pb.js";
import {
  checkedConnection,
  checkedMaxRows,
  checkedTimeout,
  deadlineError,
  intentOf,
  type OneShotContext,
} from "./one-shot.js";
import { RequestQueue } from "./request-queue.js";
import { MessageRowStream, type QueryResult, type RowStream } from "./results.js";
import { neverReachedDatabase, withRetry } from "./retry.js";
import { SessionCore, type SessionRequestInit } from "./session-core.js";
import { ControlOp, QueryOp, StreamOp } from "./session-ops.js";
import { type Row, type SqlParam, toValue } from "./values.js";

export interface SessionOptions {
  /** "read" may be served by a replica; "write" (the default) by the primary. */
  intent?: "read" | "write";
  /** Berth ends the session after this long without a request (Berth's default 60000, at most 3600000). */
  idleTtlMs?: number;
  /** Deadline for opening the session, and each statement's default (default: the client's `timeoutMs`). */
  timeoutMs?: number;
  /** Ends the session (Berth rolls back and cancels what runs). */
  signal?: AbortSignal;
}

export interface SessionStatementOptions {
  /** Berth cancels the statement on the database after this long (default: the session's `timeoutMs`). */
  timeoutMs?: number;
  /** Stop after this many rows; the completion then says `truncated`. */
  maxRows?: number;
}

export type Isolation = "read_uncommitted" | "read_committed" | "repeatable_read" | "serializable";

export interface TransactionOptions {
  isolation?: Isolation;
  readOnly?: boolean;
}

/** Statements on the session's one database session, answered in the order they were sent. */
export interface SessionQueries {
  /**
   * Sends the statement at once and resolves with its whole result. Several may be in flight
   * (pipelined): `await Promise.all([s.query(a), s.query(b)])` costs one round trip, not two.
   */
  query<R = Row>(
    sql: string,
    params?: readonly SqlParam[],
    options?: SessionStatementOptions,
  ): Promise<QueryResult<R>>;
  /**
   * Sends the statement at once; its rows are read as they arrive. Read it before the answers of
   * later statements can come (they queue behind it); stopping early reads and drops the rest.
   */
  stream<R = Row>(sql: string, params?: readonly SqlParam[], options?: SessionStatementOptions): RowStream<R>;
}

export type Transaction = SessionQueries;

export interface Session extends SessionQueries {
  /** Berth's lease on the pooled database session. */
  readonly leaseId: string;
  readonly inTransaction: boolean;
  /** Runs `fn` in a transaction: commits when it returns, rolls back when it throws (and rethrows). */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

const ISOLATION: Record<Isolation, IsolationLevel> = {
  read_uncommitted: IsolationLevel.READ_UNCOMMITTED,
  read_committed: IsolationLevel.READ_COMMITTED,
  repeatable_read: IsolationLevel.REPEATABLE_READ,
  serializable: IsolationLevel.SERIALIZABLE,
};

/** Opens the stream and waits for the lease; retried (with back-off) only while no lease was given. */
async function openCore(ctx: OneShotContext, connection: string, o: SessionOptions): Promise<SessionCore> {
  const connectionId = checkedConnection(connection);
  const timeoutMs = checkedTimeout(o.timeoutMs ?? ctx.timeoutMs);
  const intent = intentOf(o.intent);
  const deadline = Date.now() + timeoutMs;
  const attempt = async (): Promise<SessionCore> => {
    if (o.signal?.aborted) throw clientError("CANCELLED", "cancelled", "The session was cancelled");
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw deadlineError(timeoutMs);
    const requests = new RequestQueue<SessionRequestInit>();
    requests.push({
      request: { case: "open", value: { connectionId, intent, idleTtlMs: o.idleTtlMs ?? 0 } },
    });
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, remaining);
    try {
      const responses = ctx.broker.session(requests, { signal: abort.signal })[Symbol.asyncIterator]();
      const first = await responses.next();
      if (first.done || first.value.event.case !== "opened") {
        throw clientError("INTERNAL", "protocol_error", "The session stream did not open with a lease");
      }
      return new SessionCore(first.value.event.value, requests, responses, abort);
    } catch (e) {
      requests.end();
      abort.abort();
      throw timedOut ? deadlineError(timeoutMs) : toBerthError(e, abort.signal);
    } finally {
      clearTimeout(timer);
    }
  };
  return withRetry(ctx.retry, deadline, o.signal, attempt, neverReachedDatabase);
}

function sessionApi(core: SessionCore, defaultTimeoutMs: number) {
  const statementTimeout = (o: SessionStatementOptions) => checkedTimeout(o.timeoutMs ?? defaultTimeoutMs);
  const execute = (
    sql: string,
    params: readonly SqlParam[],
    o: SessionStatementOptions,
    timeoutMs: number,
  ) => ({
    case: "execute" as const,
    value: {
      sql,
      params: params.map(toValue),
      maxRows: checkedMaxRows(o.maxRows),
      timeoutMs,
    },
  });
  const queries: SessionQueries = {
    query<R = Row>(sql: string, params: readonly SqlParam[] = [], o: SessionStatementOptions = {}) {
      try {
        const timeoutMs = statementTimeout(o);
        const op = new QueryOp<R>(timeoutMs);
        core.send(execute(sql, params, o, timeoutMs), op);
        return op.promise;
      } catch (e) {
        return Promise.reject(toBerthError(e));
      }
    },
    stream<R = Row>(sql: string, params: readonly SqlParam[] = [], o: SessionStatementOptions = {}) {
      const timeoutMs = statementTimeout(o);
      const op = new StreamOp(timeoutMs);
      core.send(execute(sql, params, o, timeoutMs), op);
      const messages = op.messages();
      return new MessageRowStream<R>(() => messages);
    },
  };
  const control = (request: "begin" | "commit" | "rollback", options: TransactionOptions = {}) => {
    const op = new ControlOp(defaultTimeoutMs);
    const value =
      request === "begin"
        ? {
            isolation: options.isolation ? ISOLATION[options.isolation] : undefined,
            readOnly: options.readOnly,
          }
        : {};
    core.send({ case: request, value } as never, op);
    return op.promise;
  };
  return { queries, control };
}

type Control = ReturnType<typeof sessionApi>["control"];

/** `s.transaction`: BEGIN, the body, then COMMIT when it returns or ROLLBACK when it throws. */
function transactionRunner(core: SessionCore, queries: SessionQueries, control: Control) {
  const state = { open: false };
  const ended = () => clientError("FAILED_PRECONDITION", "transaction_ended", "This transaction has ended");
  async function run<U>(body: (tx: Transaction) => Promise<U>, options: TransactionOptions = {}): Promise<U> {
    if (state.open) {
      throw clientError(
        "FAILED_PRECONDITION",
        "transaction_open",
        "A transaction is already open in this session",
      );
    }
    state.open = true;
    // The body's handle works only while its transaction is open.
    let active = true;
    const tx: Transaction = {
      query<R = Row>(sql: string, params?: readonly SqlParam[], so?: SessionStatementOptions) {
        return active ? queries.query<R>(sql, params, so) : Promise.reject(ended());
      },
      stream<R = Row>(sql: string, params?: readonly SqlParam[], so?: SessionStatementOptions) {
        if (!active) throw ended();
        return queries.stream<R>(sql, params, so);
      },
    };
    try {
      await control("begin", options);
      let result: U;
      try {
        result = await body(tx);
      } catch (err) {
        active = false;
        // Berth also rolls back when the stream ends: a session that broke needs no rollback.
        if (!core.broken) await control("rollback").catch(() => undefined);
        throw err;
      }
      active = false;
      await control("commit");
      return result;
    } finally {
      active = false;
      state.open = false;
    }
  }
  return {
    run,
    get open() {
      return state.open;
    },
  };
}

/**
 * Leases a pooled session for `fn`, on one bidirectional stream. When `fn` returns, the session is
 * given back once every statement is answered; when it throws, the stream is cut at once (Berth
 * rolls back and cancels what runs). Statements are never retried here.
 */
export async function runSession<T>(
  ctx: OneShotContext,
  connection: string,
  fn: (s: Session) => Promise<T>,
  o: SessionOptions = {},
): Promise<T> {
  const core = await openCore(ctx, connection, o);
  const timeoutMs = checkedTimeout(o.timeoutMs ?? ctx.timeoutMs);
  const onAbort = () => core.break(clientError("CANCELLED", "cancelled", "The session was cancelled"));
  o.signal?.addEventListener("abort", onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  const { queries, control } = sessionApi(core, timeoutMs);
  const transactions = transactionRunner(core, queries, control);
  const session: Session = {
    ...queries,
    leaseId: core.lease.id,
    get inTransaction() {
      return transactions.open;
    },
    transaction: (body, options) => transactions.run(body, options),
  };
  try {
    const result = await fn(session);
    await core.close(timeoutMs);
    return result;
  } catch (err) {
    core.break(
      clientError("CANCELLED", "cancelled", "The session's function failed; the session was ended"),
      true,
    );
    throw err;
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
}
