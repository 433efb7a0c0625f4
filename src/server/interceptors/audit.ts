import type { Interceptor, StreamResponse, UnaryResponse } from "@connectrpc/connect";
import type { AuditLog } from "../../audit/audit-log.js";
import { asBerthError } from "../../errors/mapping.js";
import { principalKey } from "../../identity/principal.js";
import { requestInfoKey } from "../request-info.js";

/** Not audited at all: health probes. */
const UNAUDITED = new Set(["grpc.health.v1.Health"]);
/**
 * The data plane: recorded only when a call fails. Its successes happen per statement or per
 * transaction (the hot path), and the leases it hands out are recorded when they open and end.
 */
const FAILURES_ONLY = new Set(["berth.v1.BrokerService"]);
/** Failures that mean "you may not": recorded as denied. */
const DENIALS = new Set(["unauthenticated", "permission_denied", "not_found", "rate_limited"]);

/**
 * One audit event per call: who, from where, what, on which connection, and how it ended. Control
 * plane calls are recorded always (streams when they fail); data plane calls when they fail, so every
 * denial is recorded exactly once. If the event cannot be written, the call fails.
 */
export function auditInterceptor(audit: AuditLog): Interceptor {
  return (next) => async (req) => {
    if (UNAUDITED.has(req.service.typeName)) return next(req);
    const action = `${req.service.typeName}/${req.method.name}`;
    const info = req.contextValues.get(requestInfoKey);
    const record = async (outcome: string, reason: string, target: string) => {
      const p = req.contextValues.get(principalKey);
      await audit.append({
        actorId: p?.userId ?? "anonymous",
        actorName: p?.username ?? "",
        // Behind a trusted proxy: the client it named, and the proxy itself (the socket's peer).
        source: info.proxy ? `${info.peer} via ${info.proxy}` : info.peer,
        transport: info.transport,
        action,
        target,
        outcome,
        reason,
        requestId: info.requestId,
      });
    };
    const requestTarget = req.stream ? "" : targetOf(req.message);
    let res: UnaryResponse | StreamResponse;
    try {
      res = await next(req);
    } catch (err) {
      const e = asBerthError(err, req.signal);
      await record(outcomeOf(e), String(e.details.reason ?? e.kind), requestTarget);
      throw err;
    }
    if (res.stream)
      return { ...res, message: auditedStream(res, record, requestTarget, req.signal) } as StreamResponse;
    if (!FAILURES_ONLY.has(req.service.typeName))
      await record("ok", "", requestTarget || targetOf(res.message));
    return res;
  };
}

async function* auditedStream(
  res: StreamResponse,
  record: (outcome: string, reason: string, target: string) => Promise<void>,
  target: string,
  signal: AbortSignal,
) {
  try {
    yield* res.message;
  } catch (err) {
    const e = asBerthError(err, signal);
    await record(outcomeOf(e), String(e.details.reason ?? e.kind), target);
    throw err;
  }
}

/** A call the client cancelled is neither a denial nor a failure. */
function outcomeOf(e: { kind: string }): string {
  return e.kind === "cancelled" ? "cancelled" : DENIALS.has(e.kind) ? "denied" : "failed";
}

/** The connection (or lease) a message is about, from its usual field names. */
function targetOf(message: unknown): string {
  const m = message as Record<string, unknown> | undefined;
  if (!m) return "";
  for (const key of ["connectionId", "id", "leaseId"])
    if (typeof m[key] === "string" && m[key]) return m[key] as string;
  const target = m.target as { case?: string; value?: unknown } | undefined;
  if (target && typeof target.value === "string") return target.value;
  const conn = m.connection as { id?: string } | undefined;
  if (conn?.id) return conn.id;
  const lease = m.lease as { connectionId?: string } | undefined;
  return lease?.connectionId ?? "";
}
