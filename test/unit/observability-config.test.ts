import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { securityEventOf } from "../../src/observability/request-metrics.js";
import { codeOf } from "../../src/server/interceptors/metrics.js";

describe("tracing configuration", () => {
  it("is off by default", () => {
    expect(loadConfig({}).tracing).toEqual({ endpoint: undefined, serviceName: "berth" });
  });

  it("takes BERTH_OTLP_ENDPOINT as the traces URL, before the standard variables", () => {
    const c = loadConfig({
      BERTH_OTLP_ENDPOINT: "http://collector:4318/v1/traces",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://other:4318",
    });
    expect(c.tracing.endpoint).toBe("http://collector:4318/v1/traces");
  });

  it("adds /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT (a base URL), and takes the traces one as is", () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318/" }).tracing.endpoint).toBe(
      "http://otel:4318/v1/traces",
    );
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://otel.example/custom" }).tracing.endpoint,
    ).toBe("https://otel.example/custom");
    expect(loadConfig({ OTEL_SERVICE_NAME: "berth-eu" }).tracing.serviceName).toBe("berth-eu");
  });

  it("refuses an endpoint that is not a URL, naming the variable", () => {
    expect(() => loadConfig({ BERTH_OTLP_ENDPOINT: "collector:4318" })).toThrow(/BERTH_OTLP_ENDPOINT/);
    // The value is not echoed: an endpoint may carry a password.
    expect(() => loadConfig({ BERTH_OTLP_ENDPOINT: "ftp://u:pw-canary@h/x" })).toThrow(
      /^(?![\s\S]*pw-canary)[\s\S]*must be an http:\/\/ or https:\/\/ URL/,
    );
  });
});

describe("metric labels", () => {
  it("names codes in snake case", () => {
    expect(codeOf(undefined)).toBe("ok");
    expect(codeOf(new ConnectError("", Code.PermissionDenied))).toBe("permission_denied");
    expect(codeOf(new ConnectError("", Code.ResourceExhausted))).toBe("resource_exhausted");
    expect(codeOf(new Error("not a ConnectError"))).toBe("unknown");
  });

  it("tells security events apart", () => {
    expect(securityEventOf("unauthenticated", "invalid_credentials", "berth.v1.AuthService/Login")).toBe(
      "sign_in_failed",
    );
    expect(securityEventOf("unauthenticated", "", "berth.v1.ConnectionService/ListConnections")).toBe(
      "unauthenticated",
    );
    expect(securityEventOf("permission_denied", "", "x")).toBe("denied");
    expect(securityEventOf("security_violation", "credential_integrity_failed", "x")).toBe(
      "credential_integrity_failed",
    );
    expect(securityEventOf("security_violation", "ssl_required", "x")).toBe("security_violation");
    expect(securityEventOf("not_found", "", "x")).toBeUndefined();
  });
});
