import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";

export interface MetricsSettings {
  /** A separate listener for /metrics (0 = any free port); undefined = none. */
  readonly port: number | undefined;
  readonly host: string;
  /** With a token, the main port answers /metrics to `Authorization: Bearer <token>`; without, it answers 404. */
  readonly token: string | undefined;
}

/** OpenTelemetry traces: the OTLP/HTTP traces URL (undefined: tracing off) and the service name. */
export interface TracingSettings {
  readonly endpoint: string | undefined;
  readonly serviceName: string;
}

/** An OTLP/HTTP endpoint: http(s) only (`collector:4318` parses as a URL of scheme "collector:"). */
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), "must be an http:// or https:// URL");

/** /metrics and OpenTelemetry traces (the log level is among the server's variables). */
export const observabilityVariables = {
  BERTH_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BERTH_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  // OpenTelemetry traces: off unless an OTLP/HTTP endpoint is given (Berth's, or the standard ones).
  BERTH_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default("berth"),
};

type ObservabilityVariables = ParsedVariables<typeof observabilityVariables>;

export function metricsSettings(c: ObservabilityVariables): MetricsSettings {
  return Object.freeze({
    port: c.BERTH_METRICS_PORT,
    host: c.BERTH_METRICS_HOST,
    token: c.BERTH_METRICS_TOKEN,
  });
}

export function tracingSettings(c: ObservabilityVariables): TracingSettings {
  return Object.freeze({
    // The standard variable names a base URL, to which the traces path is added (OTLP spec).
    endpoint:
      c.BERTH_OTLP_ENDPOINT ??
      c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      (c.OTEL_EXPORTER_OTLP_ENDPOINT && `${c.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`),
    serviceName: c.OTEL_SERVICE_NAME,
  });
}
