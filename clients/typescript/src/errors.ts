import { Code, ConnectError } from "@connectrpc/connect";
import type { StatementError } from "./gen/berth/v1/broker_service_pb.js";
import { CheckFailureSchema } from "./gen/berth/v1/errors_pb.js";
import type { CheckResult } from "./gen/berth/v1/types_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** gRPC's canonical status names. */
export type BerthErrorCode =
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

const CODE_NAMES: Record<Code, BerthErrorCode> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

export interface FieldViolation {
  field: string;
  description: string;
}

export interface BerthErrorInit {
  code: BerthErrorCode;
  message: string;
  kind?: string;
  reason?: string;
  details?: Record<string, string>;
  fieldViolations?: FieldViolation[];
  retryAfterMs?: number;
  checkResult?: CheckResult;
  cause?: unknown;
}

/**
 * Every failure the SDK reports: Berth's own (decoded from google.rpc.ErrorInfo and its siblings,
 * or from a session's in-band statement error) and the transport's (the server went away).
 */
export class BerthError extends Error {
  /** The gRPC status: UNAVAILABLE, DEADLINE_EXCEEDED, FAILED_PRECONDITION, ... */
  readonly code: BerthErrorCode;
  /** Berth's error kind, the REST envelope's `error` (query_failed, unavailable, ...); "" when the transport failed. */
  readonly kind: string;
  /** The specific reason (pool_exhausted, unique_violation, timeout, connection_lost, ...); the kind when none is given. */
  readonly reason: string;
  /** The database's own code: SQLSTATE on PostgreSQL, errno on MySQL/MariaDB. */
  readonly engineCode: string | undefined;
  /** The stage a connection check failed at (dns, tcp, tls, auth, query). */
  readonly stage: string | undefined;
  /** What to do about it, when Berth knows. */
  readonly remedy: string | undefined;
  /** The server's request id: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Every detail the server sent (google.rpc.ErrorInfo metadata), as strings. */
  readonly details: Readonly<Record<string, string>>;
  /** For INVALID_ARGUMENT: which field was wrong and why. */
  readonly fieldViolations: readonly FieldViolation[];
  /** When the server says when to come back (rate limits). */
  readonly retryAfterMs: number | undefined;
  /** A failed connection check, with every stage. */
  readonly checkResult: CheckResult | undefined;

  constructor(init: BerthErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "BerthError";
    const details = init.details ?? {};
    this.code = init.code;
    this.kind = init.kind ?? "";
    this.reason = init.reason || details.reason || init.kind || "";
    this.engineCode = details.error_code || undefined;
    this.stage = details.stage || undefined;
    this.remedy = details.remedy || undefined;
    this.requestId = details.request_id || undefined;
    this.details = details;
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfterMs = init.retryAfterMs;
    this.checkResult = init.checkResult;
  }
}

/** Node's and HTTP/2's signs that the connection to Berth broke or could not be made. */
const CONNECT_FAILURES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
const LOST = /^(ECONNRESET|EPIPE|ECONNABORTED|ETIMEDOUT|ERR_HTTP2_|ERR_STREAM_)/;
/** Node's codes for a TLS handshake that failed: Berth's certificate did not verify, or ours was refused. */
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|HOSTNAME_MISMATCH)/;

function nodeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

/**
 * Turns anything a call threw into a BerthError (an existing one is returned as it is). Given the
 * call's own signal, a cancellation the caller did not ask for is the connection going away.
 */
export function toBerthError(err: unknown, callSignal?: AbortSignal): BerthError {
  if (err instanceof BerthError) return err;
  const ce = ConnectError.from(err);
  const info = ce.findDetails(ErrorInfoSchema)[0];
  if (info) {
    const retry = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
    return new BerthError({
      code: CODE_NAMES[ce.code] ?? "UNKNOWN",
      message: ce.rawMessage,
      kind: info.reason,
      details: { ...info.metadata },
      fieldViolations: ce.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => ({
        field: v.field,
        description: v.description,
      })),
      retryAfterMs: retry ? Number(retry.seconds) * 1000 + Math.floor(retry.nanos / 1e6) : undefined,
      checkResult: ce.findDetails(CheckFailureSchema)[0]?.result,
      cause: err,
    });
  }
  return transportError(ce, err, callSignal);
}

/** A failure without Berth's details: the connection to Berth, a deadline, or the framework. */
function transportError(ce: ConnectError, err: unknown, callSignal: AbortSignal | undefined): BerthError {
  const codes = nodeCodes(err);
  const tls = codes.find((c) => TLS_FAILURE.test(c));
  if (tls) {
    return new BerthError({
      code: "UNAVAILABLE",
      message: `TLS with Berth failed (${tls}): ${ce.rawMessage}`,
      reason: "tls_failed",
      cause: err,
    });
  }
  if (codes.some((c) => CONNECT_FAILURES.has(c))) {
    return new BerthError({
      code: "UNAVAILABLE",
      message: `Berth cannot be reached: ${ce.rawMessage}`,
      reason: "server_unreachable",
      cause: err,
    });
  }
  // HTTP/2 resets every stream of a connection that closes with CANCEL: not the caller's doing
  // unless the call's own signal was aborted.
  const notAsked = ce.code !== Code.Canceled || (callSignal !== undefined && !callSignal.aborted);
  const lost =
    codes.some((c) => LOST.test(c)) ||
    ce.code === Code.Unavailable ||
    /stream closed|session closed|socket hang up|GOAWAY/i.test(ce.rawMessage);
  if (lost && notAsked && ce.code !== Code.DeadlineExceeded) {
    return new BerthError({
      code: "UNAVAILABLE",
      message: `The connection to Berth was lost: ${ce.rawMessage}`,
      reason: "connection_lost",
      cause: err,
    });
  }
  return new BerthError({
    code: CODE_NAMES[ce.code] ?? "UNKNOWN",
    message: ce.rawMessage,
    reason: ce.code === Code.DeadlineExceeded ? "timeout" : ce.code === Code.Canceled ? "cancelled" : "",
    cause: err,
  });
}

/** Reasons of the statement errors a session reports in-band, and the status each stands for. */
const IN_BAND: Record<string, { code: BerthErrorCode; kind: string }> = {
  timeout: { code: "DEADLINE_EXCEEDED", kind: "deadline_exceeded" },
  cancelled: { code: "CANCELLED", kind: "cancelled" },
  validation_failed: { code: "INVALID_ARGUMENT", kind: "validation_failed" },
};

/** A session's in-band statement error (the session stays open) as a BerthError. */
export function fromStatementError(e: StatementError): BerthError {
  const known = e.errorCode === "" ? IN_BAND[e.reason] : undefined;
  const { code, kind } = known ?? { code: "FAILED_PRECONDITION" as const, kind: "query_failed" };
  const details: Record<string, string> = { reason: e.reason };
  if (e.errorCode) details.error_code = e.errorCode;
  return new BerthError({ code, kind, message: e.message, details });
}

/** A failure the SDK itself detects (bad arguments, a session used after it ended). */
export function clientError(code: BerthErrorCode, reason: string, message: string): BerthError {
  return new BerthError({ code, kind: "", reason, message });
}
