import { Counter, Histogram, type Registry } from "prom-client";

/** One finished call as the request interceptor saw it. */
export interface ObservedRequest {
  /** "grpc" | "connect" | "grpc-web" | "rest". */
  readonly transport: string;
  /** The RPC it ran ("berth.v1.BrokerService/Execute"); a REST route maps onto one. */
  readonly method: string;
  /** A REST route's template ("GET /api/connections/:id"); "" for RPC transports. */
  readonly route: string;
  /** The outcome as a gRPC code name in snake case: ok, not_found, permission_denied, … */
  readonly code: string;
  readonly seconds: number;
}

/** One connection test or validation, as its stages ended. */
export interface ObservedCheck {
  readonly kind: "test" | "validate";
  readonly engine: string;
  readonly ok: boolean;
  readonly stages: readonly { stage: string; outcome: string; seconds: number; reason: string }[];
}

/** Security events: one series per event; the alerts read them without knowing the RPCs. */
export type SecurityEvent =
  | "denied"
  | "unauthenticated"
  | "sign_in_failed"
  | "security_violation"
  | "credential_integrity_failed"
  | "audit_chain_broken";

const LOGIN_METHODS = new Set(["berth.v1.AuthService/Login", "berth.v1.AuthService/LoginWithGoogle"]);

/** The security event (if any) a failed call stands for. */
export function securityEventOf(kind: string, reason: string, method: string): SecurityEvent | undefined {
  if (kind === "unauthenticated") return LOGIN_METHODS.has(method) ? "sign_in_failed" : "unauthenticated";
  if (kind === "permission_denied") return "denied";
  // A security_violation of its own kind: stored data that failed its integrity check.
  if (reason === "credential_integrity_failed") return "credential_integrity_failed";
  if (kind === "security_violation") return "security_violation";
  return undefined;
}

/**
 * Per-call figures (RFC §6.1: success rates, response times, error rates, security events) and the
 * connection tests' (success rate and duration by engine and stage). Labels are bounded: methods
 * and routes come from the service table, codes from gRPC's list, engines and stages from enums.
 */
export function createRequestMetrics(registry: Registry, engines: readonly string[] = []) {
  const requests = new Counter({
    name: "berth_requests_total",
    help: "Calls finished, by transport, RPC method, REST route template (empty for RPC) and outcome code",
    labelNames: ["transport", "method", "route", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "berth_request_duration_seconds",
    help: "Call time from arrival to the last message sent (streams: until they end)",
    labelNames: ["transport", "method", "route"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const checks = new Counter({
    name: "berth_connection_checks_total",
    help: "Connection tests and validations by kind, engine and outcome (ok, failed)",
    labelNames: ["kind", "engine", "outcome"],
    registers: [registry],
  });
  const checkDuration = new Histogram({
    name: "berth_connection_check_stage_duration_seconds",
    help: "Time of each stage of connection tests and validations, by engine, stage and outcome",
    labelNames: ["kind", "engine", "stage", "outcome"],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const stageFailures = new Counter({
    name: "berth_connection_check_failures_total",
    help: "Failed stages of connection tests and validations, by engine, stage and reason",
    labelNames: ["kind", "engine", "stage", "reason"],
    registers: [registry],
  });
  // By event alone: the reason is in berth_errors_total. A series born at 1 is no increase to
  // Prometheus, so that a single violation would never fire an alert: each exists from the start.
  const security = new Counter({
    name: "berth_security_events_total",
    help: "Security events: denied and unauthenticated calls, failed sign-ins, security violations, integrity failures",
    labelNames: ["event"],
    registers: [registry],
  });
  for (const event of [
    "denied",
    "unauthenticated",
    "sign_in_failed",
    "security_violation",
    "credential_integrity_failed",
    "audit_chain_broken",
  ] satisfies SecurityEvent[])
    security.inc({ event }, 0);
  for (const engine of engines)
    for (const kind of ["test", "validate"])
      for (const outcome of ["ok", "failed"]) checks.inc({ kind, engine, outcome }, 0);
  return {
    observeRequest(r: ObservedRequest) {
      requests.inc({ transport: r.transport, method: r.method, route: r.route, code: r.code });
      duration.observe({ transport: r.transport, method: r.method, route: r.route }, r.seconds);
    },
    observeCheck(c: ObservedCheck) {
      checks.inc({ kind: c.kind, engine: c.engine, outcome: c.ok ? "ok" : "failed" });
      for (const s of c.stages) {
        if (s.outcome === "skipped") continue;
        checkDuration.observe(
          { kind: c.kind, engine: c.engine, stage: s.stage, outcome: s.outcome },
          s.seconds,
        );
        if (s.outcome === "failed")
          stageFailures.inc({ kind: c.kind, engine: c.engine, stage: s.stage, reason: s.reason });
      }
    },
    securityEvent(event: SecurityEvent) {
      security.inc({ event });
    },
  };
}

export type RequestMetrics = ReturnType<typeof createRequestMetrics>;
