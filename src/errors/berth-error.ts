import type { CheckResult } from "../gen/berth/v1/types_pb.js";

/**
 * The stable error identifiers of the API. On REST they are the envelope's `error` field (the RFC's
 * names plus the generic ones of DESIGN §3); on gRPC/Connect they are `google.rpc.ErrorInfo.reason`.
 */
export type ErrorKind =
  | "validation_failed"
  | "payload_too_large"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "conflict"
  | "failed_precondition"
  | "rate_limited"
  | "connection_operation_failed"
  | "pool_operation_failed"
  | "security_violation"
  | "query_failed"
  | "deadline_exceeded"
  | "cancelled"
  | "unavailable"
  | "unimplemented"
  | "internal";

export type ErrorDetails = Record<string, string | number | boolean | null | readonly unknown[] | object>;

/**
 * Base of every failure Berth reports on purpose. `message` is safe to show to clients: it never
 * contains a credential. The underlying cause (a driver error, say) goes to `cause` and only to the log.
 */
export class BerthError extends Error {
  readonly kind: ErrorKind;
  readonly details: ErrorDetails;

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.details = details;
  }
}

export interface FieldViolation {
  /** JSON path of the field (`port`, `replicas[0].server`). */
  field: string;
  description: string;
}

export class ValidationError extends BerthError {
  readonly violations: readonly FieldViolation[];

  constructor(violations: readonly FieldViolation[], message = "The request is invalid") {
    const fields: Record<string, string> = {};
    for (const v of violations)
      fields[v.field] = fields[v.field] ? `${fields[v.field]}; ${v.description}` : v.description;
    super("validation_failed", `${message}: ${describeViolations(violations)}`, { fields });
    this.violations = violations;
  }

  static field(field: string, description: string): ValidationError {
    return new ValidationError([{ field, description }]);
  }
}

function describeViolations(violations: readonly FieldViolation[]): string {
  const shown = violations.slice(0, 5).map((v) => `${v.field}: ${v.description}`);
  if (violations.length > 5) shown.push(`and ${violations.length - 5} more`);
  return shown.join("; ");
}

export class PayloadTooLargeError extends BerthError {
  constructor(limitBytes: number) {
    super("payload_too_large", `The request body exceeds ${limitBytes} bytes`, { limit_bytes: limitBytes });
  }
}

export class UnauthenticatedError extends BerthError {
  constructor(
    message = "Sign in first: send `authorization: Bearer <token>`",
    reason = "missing_credentials",
  ) {
    super("unauthenticated", message, { reason });
  }
}

export class PermissionDeniedError extends BerthError {
  constructor(message: string, reason = "insufficient_access") {
    super("permission_denied", message, { reason });
  }
}

export class NotFoundError extends BerthError {
  constructor(resource: string, id: string) {
    super("not_found", `No ${resource} with id "${truncate(id, 64)}"`, { resource, id: truncate(id, 64) });
  }
}

export class ConflictError extends BerthError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("conflict", message, details);
  }
}

/** The system is not in a state where this can be done (rotating a key that comes from the environment). */
export class FailedPreconditionError extends BerthError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("failed_precondition", message, details);
  }
}

/** A secret was written with a key version that has since been retired: it must be set again. */
export class KeyVersionRetiredError extends BerthError {
  constructor(connectionId: string, field: string, version: number, minVersion: number) {
    super(
      "security_violation",
      `The stored ${field} of connection ${connectionId} was encrypted with key version ${version}, which is retired (versions below ${minVersion} no longer decrypt); ${field === "settings" ? "save the connection again with its credentials" : "set the credential again"} or lower the retirement`,
      { reason: "key_version_retired", connection_id: connectionId, field, key_version: version },
    );
  }
}

export class UnimplementedError extends BerthError {
  constructor(what: string) {
    super("unimplemented", `${what} is not implemented yet`);
  }
}

export class UnavailableError extends BerthError {
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super("unavailable", message, details, options);
  }
}

/**
 * A stored secret failed its integrity check: the ciphertext was altered, or copied from another
 * connection or field (the associated data no longer matches). Never answered with garbage.
 */
export class CredentialIntegrityError extends BerthError {
  constructor(connectionId: string, field: string, options?: { cause?: unknown }) {
    super(
      "security_violation",
      `The stored ${field} of connection ${connectionId} failed its integrity check (altered, or copied from another record); ${field === "settings" ? "save the connection again with its credentials" : "set the credential again"}`,
      { reason: "credential_integrity_failed", connection_id: connectionId, field },
      options,
    );
  }
}

/** The RFC's connection_operation_failed: a test or validation of a connection did not pass. */
export class ConnectionCheckError extends BerthError {
  readonly result: CheckResult;

  constructor(result: CheckResult, engine: string) {
    const failed = result.stages.find((s) => s.reason !== "");
    super("connection_operation_failed", failed?.message || "Unable to establish connection", {
      reason: failed?.reason ?? "unknown",
      database_type: engine,
      error_code: failed?.errorCode ?? "",
      stage: failed ? stageName(failed.stage) : "",
      remedy: failed?.remedy ?? "",
    });
    this.result = result;
  }
}

const STAGE_NAMES = [
  "unspecified",
  "config",
  "credentials",
  "dns",
  "tcp",
  "tls",
  "auth",
  "query",
  "ssh_dns",
  "ssh_tcp",
  "ssh_handshake",
  "ssh_host_key",
  "ssh_auth",
  "ssh_forward",
] as const;
export function stageName(stage: number): string {
  return STAGE_NAMES[stage] ?? "unspecified";
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/** A statement the database refused or failed (syntax, constraint, permission…), with its code. */
export class QueryFailedError extends BerthError {
  constructor(
    message: string,
    details: { reason: string; error_code: string },
    options?: { cause?: unknown },
  ) {
    super("query_failed", message, details, options);
  }
}

/** The RFC's security_violation / ssl_required: policy demands TLS and the configuration allows plain text. */
export class TlsRequiredError extends BerthError {
  constructor(sslMode: string) {
    super(
      "security_violation",
      `This Berth requires TLS to databases: sslMode "${sslMode}" allows plain text; use require, verify-ca or verify-full`,
      { reason: "ssl_required", current_protocol: "plain", ssl_mode: sslMode },
    );
  }
}

/** A limit was reached; says when to come back. */
export class RateLimitedError extends BerthError {
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, details: ErrorDetails = {}) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super("rate_limited", `${message}; retry in ${seconds} s`, { ...details, retry_after_seconds: seconds });
    this.retryAfterMs = retryAfterMs;
  }
}

export class DeadlineExceededError extends BerthError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("deadline_exceeded", message, { reason: "timeout", ...details });
  }
}
