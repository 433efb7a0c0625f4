import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { TtlCache } from "../access/ttl-cache.js";
import type { ConnectionRegistry } from "../connections/registry.js";
import type { IsolationLevelId, QueryChunk } from "../drivers/driver.js";
import { BerthError, DeadlineExceededError, ValidationError } from "../errors/berth-error.js";
import {
  type BrokerService,
  type ExecuteResponse,
  Intent,
  IsolationLevel,
  type Lease as LeaseMessage,
  type OpenSession,
  type SessionRequest,
  type SessionResponse,
  type Statement,
} from "../gen/berth/v1/broker_service_pb.js";
import type { Principal } from "../identity/principal.js";
import type { Lease, LeaseManager } from "../pools/leases.js";
import { runOnce } from "../pools/one-shot.js";
import type { Intent as PoolIntent, PoolManager } from "../pools/pool-manager.js";
import type { StatementInput, StatementOptions } from "../pools/statement.js";
import { principalOf } from "./context.js";
import type { InFlightStatements } from "./in-flight-statements.js";

export interface BrokerServiceDeps {
  registry: ConnectionRegistry;
  pools: PoolManager;
  leases: LeaseManager;
  /** Remembers "principal may use connection" so statements do not read the store. */
  accessCache: TtlCache<true>;
  statementTimeoutMs: number;
  batchBytes: number;
  cancelGraceMs: number;
  observeQuery?: (connectionId: string, ms: number) => void;
  /** One-shot statements in flight, ended by the revocation watch like leases. */
  inFlight?: InFlightStatements;
}

const ISOLATION: Record<IsolationLevel, IsolationLevelId | undefined> = {
  [IsolationLevel.UNSPECIFIED]: undefined,
  [IsolationLevel.READ_UNCOMMITTED]: "read_uncommitted",
  [IsolationLevel.READ_COMMITTED]: "read_committed",
  [IsolationLevel.REPEATABLE_READ]: "repeatable_read",
  [IsolationLevel.SERIALIZABLE]: "serializable",
};

/** Statement errors that leave the session usable: reported in-band on a session stream. */
const IN_BAND_ERRORS = new Set(["query_failed", "deadline_exceeded", "cancelled", "validation_failed"]);

function statementInput(s: Statement | undefined): StatementInput {
  if (!s) throw ValidationError.field("statement", "is required");
  return { sql: s.sql, params: s.params, maxRows: Number(s.maxRows), timeoutMs: s.timeoutMs };
}

function leaseMessage(lease: Lease): LeaseMessage {
  return {
    $typeName: "berth.v1.Lease",
    id: lease.id,
    connectionId: lease.connectionId,
    expiresAt: timestampFromMs(lease.expiresAt),
    idleTtlMs: lease.idleTtlMs,
  };
}

type TimedChunk = QueryChunk & { durationMs?: number; consistencyToken?: string };

/** A chunk of a statement's result as the wire message both Execute and Session send. */
function resultMessage(c: TimedChunk, observe?: (ms: number) => void): ExecuteResponse {
  const message: ExecuteResponse = { $typeName: "berth.v1.ExecuteResponse" };
  if (c.columns) message.columns = { $typeName: "berth.v1.Columns", columns: c.columns };
  if (c.rows) message.rows = { $typeName: "berth.v1.RowBatch", rows: c.rows };
  if (c.completion) {
    observe?.(c.durationMs ?? 0);
    message.complete = {
      $typeName: "berth.v1.Completion",
      rowsAffected: c.completion.rowsAffected,
      commandTag: c.completion.commandTag,
      durationMs: c.durationMs ?? 0,
      truncated: c.completion.truncated,
      rowsReturned: c.completion.rowsReturned,
      consistencyToken: c.consistencyToken ?? "",
    };
  }
  return message;
}

/** The broker's steps, shared by its methods: authorize, run, map results to messages. */
function brokerSteps(deps: BrokerServiceDeps) {
  const { leases } = deps;

  async function authorizeUse(principal: Principal, connectionId: string): Promise<void> {
    const key = `${principal.userId}|${connectionId}`;
    if (deps.accessCache.get(key)) return;
    const readAt = deps.accessCache.generation;
    await deps.registry.authorizeUse(principal, connectionId);
    deps.accessCache.set(key, true, [`connection:${connectionId}`, `user:${principal.userId}`], readAt);
  }

  function statementOptions(signal: AbortSignal): StatementOptions {
    return {
      signal,
      defaultTimeoutMs: deps.statementTimeoutMs,
      batchBytes: deps.batchBytes,
      cancelGraceMs: deps.cancelGraceMs,
    };
  }

  /** A statement's chunks as wire messages, its duration observed for the metrics. */
  async function* results(connectionId: string, chunks: AsyncIterable<TimedChunk>) {
    const observe = (ms: number) => deps.observeQuery?.(connectionId, ms);
    for await (const c of chunks) yield resultMessage(c, observe);
  }

  async function openStream(principal: Principal, open: OpenSession): Promise<Lease> {
    await authorizeUse(principal, open.connectionId);
    return leases.open(
      principal,
      open.connectionId,
      open.idleTtlMs,
      intentOf(open.intent),
      "stream",
      open.consistencyToken,
    );
  }

  /** What every statement of one session stream shares, made once when it opens. */
  function streamContext(lease: Lease, signal: AbortSignal) {
    const connectionId = lease.connectionId;
    return {
      lease,
      options: statementOptions(signal),
      observe: (ms: number) => deps.observeQuery?.(connectionId, ms),
    };
  }

  /** One request of a session stream, answered with its events. */
  async function* sessionStep(stream: ReturnType<typeof streamContext>, r: SessionRequest["request"]) {
    const { lease } = stream;
    switch (r.case) {
      case "execute":
        for await (const c of leases.run(lease, statementInput(r.value), stream.options)) {
          yield sessionResponse(resultMessage(c, stream.observe));
        }
        return;
      case "begin":
        await lease.begin(ISOLATION[r.value.isolation], r.value.readOnly);
        yield transactionState(true);
        return;
      case "commit":
      case "rollback":
        yield transactionState(false, await lease.finish(r.case));
        return;
      default:
        throw ValidationError.field("request", "after `open`, send execute, begin, commit or rollback");
    }
  }

  return { authorizeUse, statementOptions, results, openStream, streamContext, sessionStep };
}

export function createBrokerService(deps: BrokerServiceDeps): ServiceImpl<typeof BrokerService> {
  const { pools, leases } = deps;
  const { authorizeUse, statementOptions, results, openStream, streamContext, sessionStep } =
    brokerSteps(deps);
  return {
    async *execute(req, ctx) {
      const principal = principalOf(ctx);
      const statement = statementInput(req.statement);
      const options = statementOptions(ctx.signal);
      if (req.target.case === "leaseId") {
        const lease = leases.find(principal, req.target.value);
        yield* results(lease.connectionId, leases.run(lease, statement, options));
        return;
      }
      if (req.target.case !== "connectionId") {
        throw ValidationError.field("target", "give connectionId (one pooled session) or leaseId");
      }
      const connectionId = req.target.value;
      await authorizeUse(principal, connectionId);
      const tracked = deps.inFlight?.track(principal, connectionId, ctx.signal);
      const signal = tracked?.signal ?? ctx.signal;
      try {
        yield* results(
          connectionId,
          runOnce(
            pools,
            connectionId,
            intentOf(req.intent),
            statement,
            statementOptions(signal),
            req.consistencyToken,
          ),
        );
      } catch (err) {
        throw tracked?.endedError() ?? err;
      } finally {
        tracked?.done();
      }
    },

    async *session(requests, ctx: HandlerContext) {
      const principal = principalOf(ctx);
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || first.value.request.case !== "open") {
        throw ValidationError.field("open", "the first message of a session must be `open`");
      }
      const lease = await openStream(principal, first.value.request.value);
      const idle = idleGuard(it, lease);
      const stream = streamContext(lease, ctx.signal);
      try {
        yield { event: { case: "opened", value: leaseMessage(lease) } } satisfies Omit<
          SessionResponse,
          "$typeName"
        >;
        for (;;) {
          const next = await idle.next();
          if (next.done) return;
          lease.touch();
          try {
            yield* sessionStep(stream, next.value.request);
          } catch (err) {
            yield statementError(err, lease);
          }
        }
      } finally {
        idle.stop();
        await leases.end(lease, lease.pooled.session.healthy ? "stream_closed" : "connection_lost");
      }
    },

    async acquireLease(req, ctx) {
      const principal = principalOf(ctx);
      await authorizeUse(principal, req.connectionId);
      return {
        lease: leaseMessage(
          await leases.open(
            principal,
            req.connectionId,
            req.idleTtlMs,
            intentOf(req.intent),
            "lease",
            req.consistencyToken,
          ),
        ),
      };
    },

    async renewLease(req, ctx) {
      return { lease: leaseMessage(leases.renew(leases.find(principalOf(ctx), req.leaseId))) };
    },

    async releaseLease(req, ctx) {
      await leases.end(leases.find(principalOf(ctx), req.leaseId), "released");
      return {};
    },

    async begin(req, ctx) {
      await leases.find(principalOf(ctx), req.leaseId).begin(ISOLATION[req.isolation], req.readOnly);
      return {};
    },

    async commit(req, ctx) {
      const token = await leases.find(principalOf(ctx), req.leaseId).finish("commit");
      return { consistencyToken: token ?? "" };
    },

    async rollback(req, ctx) {
      await leases.find(principalOf(ctx), req.leaseId).finish("rollback");
      return {};
    },
  };
}

function transactionState(inTransaction: boolean, consistencyToken = ""): SessionResponse {
  return {
    $typeName: "berth.v1.SessionResponse",
    event: {
      case: "transaction",
      value: { $typeName: "berth.v1.TransactionState", inTransaction, consistencyToken },
    },
  };
}

/**
 * A statement's failure as an in-band event when it leaves the session usable; anything else
 * (the lease ended, the connection broke, an unexpected fault) ends the stream by rethrowing.
 */
function statementError(err: unknown, lease: Lease): SessionResponse {
  if (
    !(err instanceof BerthError) ||
    !IN_BAND_ERRORS.has(err.kind) ||
    lease.ended ||
    !lease.pooled.session.healthy
  )
    throw err;
  return {
    $typeName: "berth.v1.SessionResponse",
    event: {
      case: "error",
      value: {
        $typeName: "berth.v1.StatementError",
        reason: String(err.details.reason ?? err.kind),
        errorCode: String(err.details.error_code ?? ""),
        message: err.message,
      },
    },
  };
}

/** Built directly: the transports would otherwise run create() on every message. */
function sessionResponse(result: ExecuteResponse): SessionResponse {
  return { $typeName: "berth.v1.SessionResponse", event: { case: "result", value: result } };
}

/**
 * Reads a session's requests, failing with a deadline error when the caller stays silent longer
 * than the idle TTL, or with the lease's own reason when it is ended meanwhile (revoked, past its
 * lifetime, shutdown). One timer per session, re-armed per message (not a timer and a race each time).
 */
function idleGuard<T>(it: AsyncIterator<T>, lease: Lease) {
  let expire: ((err: Error) => void) | undefined;
  const timer = setTimeout(() => {
    expire?.(
      new DeadlineExceededError(`The session was idle for ${lease.idleTtlMs} ms and was closed`, {
        reason: "idle_timeout",
      }),
    );
  }, lease.idleTtlMs);
  timer.unref();
  const onEnded = () => expire?.(lease.endedError());
  lease.signal.addEventListener("abort", onEnded, { once: true });
  return {
    next(): Promise<IteratorResult<T>> {
      if (lease.ended) return Promise.reject(lease.endedError());
      timer.refresh();
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        expire = reject;
        it.next().then(resolve, reject);
      });
    },
    stop() {
      clearTimeout(timer);
      lease.signal.removeEventListener("abort", onEnded);
    },
  };
}

/** READ may be served by a replica; anything else (unspecified included) goes to the primary. */
function intentOf(intent: Intent): PoolIntent {
  return intent === Intent.READ ? "read" : "write";
}
