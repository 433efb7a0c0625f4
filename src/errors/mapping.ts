import { create, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CheckFailureSchema } from "../gen/berth/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import {
  BerthError,
  ConnectionCheckError,
  type ErrorDetails,
  type ErrorKind,
  RateLimitedError,
  ValidationError,
} from "./berth-error.js";
import { checkResultToJson } from "./check-result-json.js";

/**
 * The one place where Berth's typed errors become wire errors: a ConnectError with
 * google.rpc.ErrorInfo (and BadRequest / CheckFailure) details for gRPC, Connect and gRPC-Web, or
 * the RFC's JSON envelope with an HTTP status for REST.
 */
const KINDS: Record<ErrorKind, { code: Code; http: number }> = {
  validation_failed: { code: Code.InvalidArgument, http: 400 },
  payload_too_large: { code: Code.ResourceExhausted, http: 413 },
  unauthenticated: { code: Code.Unauthenticated, http: 401 },
  permission_denied: { code: Code.PermissionDenied, http: 403 },
  not_found: { code: Code.NotFound, http: 404 },
  conflict: { code: Code.Aborted, http: 409 },
  failed_precondition: { code: Code.FailedPrecondition, http: 409 },
  rate_limited: { code: Code.ResourceExhausted, http: 429 },
  connection_operation_failed: { code: Code.FailedPrecondition, http: 422 },
  pool_operation_failed: { code: Code.ResourceExhausted, http: 503 },
  security_violation: { code: Code.FailedPrecondition, http: 422 },
  query_failed: { code: Code.FailedPrecondition, http: 422 },
  deadline_exceeded: { code: Code.DeadlineExceeded, http: 504 },
  cancelled: { code: Code.Canceled, http: 499 },
  unavailable: { code: Code.Unavailable, http: 503 },
  unimplemented: { code: Code.Unimplemented, http: 501 },
  internal: { code: Code.Internal, http: 500 },
};

/** Where one kind/reason deserves another signal than its kind's default. */
const REASON_OVERRIDES: Record<string, { code: Code; http: number }> = {
  // Stored data failed its integrity check: the server's problem, and data is lost until re-entered.
  "security_violation/credential_integrity_failed": { code: Code.DataLoss, http: 500 },
  // A pool operation that failed because Berth is stopping or the database does not answer: the
  // RFC's pool error body on REST, but UNAVAILABLE on gRPC, so that clients retry elsewhere or later.
  "pool_operation_failed/shutting_down": { code: Code.Unavailable, http: 503 },
  "pool_operation_failed/database_not_answering": { code: Code.Unavailable, http: 503 },
};

export const ERROR_DOMAIN = "berth.dev";

/**
 * Anything thrown becomes a BerthError; the unknown ones become a generic internal error. Given the
 * call's signal, a call the client gave up on (it cancelled, or went away) is `cancelled` whatever
 * broke on the way out (the write into a closed stream): not a server fault. (A statement cut short
 * by the client is already `cancelled`, from the statement runner.)
 */
export function asBerthError(err: unknown, signal?: AbortSignal): BerthError {
  // Only for what Berth did not raise on purpose: a typed error (a refusal, a failed statement) is
  // reported as it is even if the client has gone since.
  if (signal && !(err instanceof BerthError) && clientGaveUp(signal)) {
    return new BerthError(
      "cancelled",
      "The caller cancelled the call",
      { reason: "cancelled" },
      { cause: err },
    );
  }
  if (err instanceof BerthError) return err;
  if (err instanceof ConnectError) return fromConnectError(err);
  return new BerthError("internal", "Internal error", {}, { cause: err });
}

/**
 * The transports abort a call's signal with no reason or a Canceled/Aborted error when the client
 * cancels or its stream is reset; a deadline or a shutdown carries another code.
 */
function clientGaveUp(signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  const reason: unknown = signal.reason;
  if (!(reason instanceof ConnectError)) return true;
  return reason.code === Code.Canceled || reason.code === Code.Aborted;
}

/**
 * A call's signal aborted because Berth is going away (a graceful stop ends the streams still
 * open with UNAVAILABLE), not because the caller cancelled or its deadline passed.
 */
export function serverGoingAway(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof ConnectError && signal.reason.code === Code.Unavailable;
}

function fromConnectError(err: ConnectError): BerthError {
  // Errors raised by the framework itself (malformed messages, deadlines, unknown methods).
  const kind: ErrorKind =
    err.code === Code.InvalidArgument
      ? "validation_failed"
      : err.code === Code.Unimplemented
        ? "unimplemented"
        : err.code === Code.ResourceExhausted
          ? "payload_too_large"
          : err.code === Code.Canceled
            ? "cancelled"
            : err.code === Code.DeadlineExceeded || err.code === Code.Unavailable
              ? "unavailable"
              : "internal";
  return new BerthError(kind, err.rawMessage, {}, { cause: err });
}

function statusOf(err: BerthError): { code: Code; http: number } {
  const reason = typeof err.details.reason === "string" ? err.details.reason : "";
  return REASON_OVERRIDES[`${err.kind}/${reason}`] ?? KINDS[err.kind];
}

export function isServerFault(err: BerthError): boolean {
  return statusOf(err).http >= 500 && err.kind !== "unavailable" && err.kind !== "pool_operation_failed";
}

function safeMessage(err: BerthError, requestId: string): string {
  return err.kind === "internal"
    ? `Internal error; quote request id ${requestId} when reporting it`
    : err.message;
}

export function toConnectError(thrown: unknown, requestId: string): ConnectError {
  if (thrown instanceof ConnectError && thrown.cause instanceof BerthError) return thrown;
  const err = asBerthError(thrown);
  const metadata: Record<string, string> = { request_id: requestId };
  for (const [k, v] of Object.entries(err.details)) {
    if (k !== "fields") metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  const details: Message[] = [create(ErrorInfoSchema, { reason: err.kind, domain: ERROR_DOMAIN, metadata })];
  if (err instanceof ValidationError) {
    details.push(
      create(BadRequestSchema, {
        fieldViolations: err.violations.map((v) => ({ field: v.field, description: v.description })),
      }),
    );
  }
  if (err instanceof ConnectionCheckError) details.push(create(CheckFailureSchema, { result: err.result }));
  if (err instanceof RateLimitedError) {
    const seconds = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    details.push(create(RetryInfoSchema, { retryDelay: { seconds: BigInt(seconds), nanos: 0 } }));
  }
  const ce = new ConnectError(
    safeMessage(err, requestId),
    statusOf(err).code,
    undefined,
    details.map((d) => ({ desc: descOf(d), value: d })),
    err,
  );
  return ce;
}

function descOf(m: Message) {
  switch (m.$typeName) {
    case ErrorInfoSchema.typeName:
      return ErrorInfoSchema;
    case BadRequestSchema.typeName:
      return BadRequestSchema;
    case RetryInfoSchema.typeName:
      return RetryInfoSchema;
    default:
      return CheckFailureSchema;
  }
}

export interface RestError {
  status: number;
  headers: Record<string, string>;
  body: { error: ErrorKind; message: string; details: ErrorDetails & { request_id: string } };
}

function rateLimitHeaders(details: ErrorDetails): Record<string, string> {
  const headers: Record<string, string> = { "retry-after": String(details.retry_after_seconds) };
  if (details.limit !== undefined) {
    headers["x-ratelimit-limit"] = String(details.limit);
    headers["x-ratelimit-remaining"] = "0";
    headers["x-ratelimit-reset"] = String(details.reset_seconds ?? details.retry_after_seconds);
  }
  return headers;
}

/** The RFC §9.3 envelope: {"error", "message", "details"}. */
export function toRestError(thrown: unknown, requestId: string): RestError {
  const err =
    thrown instanceof ConnectError && thrown.cause instanceof BerthError
      ? thrown.cause
      : asBerthError(thrown);
  const details: ErrorDetails & { request_id: string } = { ...err.details, request_id: requestId };
  if (err instanceof ConnectionCheckError) details.stages = checkResultToJson(err.result).stages;
  return {
    status: statusOf(err).http,
    headers: err instanceof RateLimitedError ? rateLimitHeaders(details) : {},
    body: { error: err.kind, message: safeMessage(err, requestId), details },
  };
}
