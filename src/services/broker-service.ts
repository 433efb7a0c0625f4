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
  type SessionResponse,
  type Statement,
} from "../gen/berth/v1/broker_service_pb.js";
import type { Principal } from "../identity/principal.js";
import type { Lease, LeaseManager } from "../pools/leases.js";
import type { Intent as PoolIntent, PoolManager } from "../pools/pool-manager.js";
import { runStatement, type StatementInput, type StatementOptions } from "../pools/statement.js";
import { principalOf } from "./context.js";

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

/** A chunk of a statement's result as the wire message both Execute and Session send. */
function resultMessage(
  c: QueryChunk & { durationMs?: number },
  observe?: (ms: number) => void,
): ExecuteResponse {
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
    };
  }
  return message;
}

export function createBrokerService(deps: BrokerServiceDeps): ServiceImpl<typeof BrokerService> {
  const { pools, leases } = deps;

  async function authorizeUse(principal: Principal, connectionId: string): Promise<void> {
    const key = `${principal.userId}|${connectionId}`;
    if (deps.accessCache.get(key)) return;
    await deps.registry.authorizeUse(principal, connectionId);
    deps.accessCache.set(key, true, [`connection:${connectionId}`, `user:${principal.userId}`]);
  }

  function statementOptions(signal: AbortSignal): StatementOptions {
    return {
      signal,
      defaultTimeoutMs: deps.statementTimeoutMs,
      batchBytes: deps.batchBytes,
      cancelGraceMs: deps.cancelGraceMs,
    };
  }

  /** Runs a statement on a lease, holding it busy until the last event is consumed. */
  async function* onLease(lease: Lease, statement: StatementInput, signal: AbortSignal) {
    // Take our place in the lease's queue before waiting: two calls on one lease run in turn.
    const previous = lease.tail;
    let done!: () => void;
    lease.tail = new Promise<void>((r) => {
      done = r;
    });
    await previous;
    lease.busy++;
    try {
      yield* runStatement(lease.pooled, lease.pool.driver, statement, statementOptions(signal));
    } finally {
      lease.busy--;
      leases.touch(lease);
      done();
      if (!lease.pooled.session.healthy) void leases.end(lease, "connection_lost");
    }
  }

  async function transaction(
    lease: Lease,
    action: "begin" | "commit" | "rollback",
    isolation?: IsolationLevel,
    readOnly = false,
  ) {
    await leases.use(lease, async () => {
      const s = lease.pooled.session;
      if (action === "begin") {
        if (lease.inTransaction)
          throw ValidationError.field("begin", "a transaction is already open on this lease");
        await s.begin(ISOLATION[isolation ?? IsolationLevel.UNSPECIFIED], readOnly);
        lease.inTransaction = true;
      } else {
        lease.inTransaction = false;
        await (action === "commit" ? s.commit() : s.rollback());
      }
    });
  }

  return {
    async *execute(req, ctx) {
      const principal = principalOf(ctx);
      const statement = statementInput(req.statement);
      if (req.target.case === "leaseId") {
        const lease = leases.find(principal, req.target.value);
        const observe = (ms: number) => {
          deps.observeQuery?.(lease.connectionId, ms);
          lease.pool.recordQuery(ms);
        };
        for await (const e of onLease(lease, statement, ctx.signal)) yield resultMessage(e, observe);
        return;
      }
      if (req.target.case !== "connectionId") {
        throw ValidationError.field("target", "give connectionId (one pooled session) or leaseId");
      }
      await authorizeUse(principal, req.target.value);
      const { pool, pooled } = await pools.acquire(req.target.value, intentOf(req.intent));
      try {
        const observe = (ms: number) => {
          deps.observeQuery?.(pool.connectionId, ms);
          pool.recordQuery(ms);
        };
        for await (const e of runStatement(pooled, pool.driver, statement, statementOptions(ctx.signal))) {
          yield resultMessage(e, observe);
        }
      } finally {
        // Reset even after one statement: a SET in it must not reach the next borrower. The caller
        // does not wait for it: its result is complete, and the session returns to the pool only
        // once the reset has run (a failed reset drops it), so no borrower can see the old state.
        void pool.release(pooled, { reset: true }).catch(() => {});
      }
    },

    async *session(requests, ctx: HandlerContext) {
      const principal = principalOf(ctx);
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || first.value.request.case !== "open") {
        throw ValidationError.field("open", "the first message of a session must be `open`");
      }
      const open = first.value.request.value;
      await authorizeUse(principal, open.connectionId);
      const lease = await leases.open(principal, open.connectionId, open.idleTtlMs, intentOf(open.intent));
      const idle = idleGuard(it, lease.idleTtlMs);
      try {
        yield { event: { case: "opened", value: leaseMessage(lease) } } satisfies Omit<
          SessionResponse,
          "$typeName"
        >;
        for (;;) {
          const next = await idle.next();
          if (next.done) return;
          leases.touch(lease);
          const r = next.value.request;
          try {
            switch (r.case) {
              case "execute":
                for await (const e of onLease(lease, statementInput(r.value), ctx.signal)) {
                  yield sessionResponse(
                    resultMessage(e, (ms) => {
                      deps.observeQuery?.(lease.connectionId, ms);
                      lease.pool.recordQuery(ms);
                    }),
                  );
                }
                break;
              case "begin":
                await transaction(lease, "begin", r.value.isolation, r.value.readOnly);
                yield {
                  event: {
                    case: "transaction",
                    value: { $typeName: "berth.v1.TransactionState", inTransaction: true },
                  },
                };
                break;
              case "commit":
              case "rollback":
                await transaction(lease, r.case);
                yield {
                  event: {
                    case: "transaction",
                    value: { $typeName: "berth.v1.TransactionState", inTransaction: false },
                  },
                };
                break;
              default:
                throw ValidationError.field(
                  "request",
                  "after `open`, send execute, begin, commit or rollback",
                );
            }
          } catch (err) {
            if (
              !(err instanceof BerthError) ||
              !IN_BAND_ERRORS.has(err.kind) ||
              !lease.pooled.session.healthy
            )
              throw err;
            yield {
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
          await leases.open(principal, req.connectionId, req.idleTtlMs, intentOf(req.intent)),
        ),
      };
    },

    async renewLease(req, ctx) {
      const lease = leases.find(principalOf(ctx), req.leaseId);
      leases.touch(lease);
      return { lease: leaseMessage(lease) };
    },

    async releaseLease(req, ctx) {
      await leases.end(leases.find(principalOf(ctx), req.leaseId), "released");
      return {};
    },

    async begin(req, ctx) {
      await transaction(leases.find(principalOf(ctx), req.leaseId), "begin", req.isolation, req.readOnly);
      return {};
    },

    async commit(req, ctx) {
      await transaction(leases.find(principalOf(ctx), req.leaseId), "commit");
      return {};
    },

    async rollback(req, ctx) {
      await transaction(leases.find(principalOf(ctx), req.leaseId), "rollback");
      return {};
    },
  };
}

/** Built directly: the transports would otherwise run create() on every message. */
function sessionResponse(result: ExecuteResponse): SessionResponse {
  return { $typeName: "berth.v1.SessionResponse", event: { case: "result", value: result } };
}

/**
 * Reads a session's requests, failing with a deadline error when the caller stays silent longer
 * than the idle TTL. One timer per session, re-armed per message (not a timer and a race each time).
 */
function idleGuard<T>(it: AsyncIterator<T>, idleMs: number) {
  let expire: ((err: Error) => void) | undefined;
  const timer = setTimeout(() => {
    expire?.(
      new DeadlineExceededError(`The session was idle for ${idleMs} ms and was closed`, {
        reason: "idle_timeout",
      }),
    );
  }, idleMs);
  timer.unref();
  return {
    next(): Promise<IteratorResult<T>> {
      timer.refresh();
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        expire = reject;
        it.next().then(resolve, reject);
      });
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** READ may be served by a replica; anything else (unspecified included) goes to the primary. */
function intentOf(intent: Intent): PoolIntent {
  return intent === Intent.READ ? "read" : "write";
}
