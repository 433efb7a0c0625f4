import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tracingEnabled } from "../../src/observability/tracing.js";
import { startTracing, type Tracing } from "../../src/observability/tracing-sdk.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const exporter = new InMemorySpanExporter();
let tracing: Tracing | undefined;
let b: TestBerth;
let pgId = "";

beforeAll(async () => {
  tracing = startTracing({ serviceName: "berth-test", exporter });
  b = await startTestBerth();
  if (hasPostgres) {
    const created = await b.api("/api/connections", {
      body: {
        name: "traced-pg",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: "trace-canary-password",
      },
    });
    pgId = created.body.id;
  }
});
afterAll(async () => {
  await b?.close();
  await tracing?.shutdown();
});
beforeEach(() => exporter.reset());

const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const childrenOf = (parent: ReadableSpan) =>
  exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

/** The log lines (JSON) whose request_id is the given one. */
function logLinesOf(requestId: string): Record<string, unknown>[] {
  return b.logs
    .flatMap((chunk) => chunk.split("\n"))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.request_id === requestId);
}

describe("OpenTelemetry traces (in-memory exporter)", () => {
  it("makes one server span per REST call, with its route, and puts its trace id in the log", async () => {
    expect(tracingEnabled()).toBe(true);
    const r = await b.api("/api/connections", { headers: { "x-request-id": "trace-rest-1" } });
    expect(r.status).toBe(200);
    const [span] = named("berth.v1.ConnectionService/ListConnections");
    expect(span).toBeDefined();
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.attributes).toMatchObject({
      "rpc.service": "berth.v1.ConnectionService",
      "rpc.method": "ListConnections",
      "berth.transport": "rest",
      "http.route": "GET /api/connections",
      "berth.request_id": "trace-rest-1",
      "berth.code": "ok",
    });
    const lines = logLinesOf("trace-rest-1");
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const l of lines) expect(l.trace_id).toBe(span!.spanContext().traceId);
  });

  it("joins the caller's trace when it sends traceparent", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    await b.api("/api/connections", { headers: { traceparent: `00-${traceId}-${parentId}-01` } });
    const [span] = named("berth.v1.ConnectionService/ListConnections");
    expect(span!.spanContext().traceId).toBe(traceId);
    expect(span!.parentSpanContext?.spanId).toBe(parentId);
  });

  it("marks a refused call with its code, not as a server fault", async () => {
    expect((await b.api("/api/connections", { token: null })).status).toBe(401);
    const [span] = named("berth.v1.ConnectionService/ListConnections");
    expect(span!.attributes["berth.code"]).toBe("unauthenticated");
    expect(span!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it.skipIf(!hasPostgres)("has a child span per connection test stage, under the check", async () => {
    const r = await b.api(`/api/connections/${pgId}/test`, { body: {} });
    expect(r.status).toBe(200);
    const [call] = named("berth.v1.ConnectionService/TestConnection");
    const [check] = childrenOf(call!);
    expect(check!.name).toBe("berth.connection.check");
    expect(check!.attributes["berth.check.ok"]).toBe(true);
    const stages = childrenOf(check!).map((s) => s.name);
    expect(stages).toEqual(
      expect.arrayContaining(["berth.check.dns", "berth.check.tcp", "berth.check.auth"]),
    );
    // Nothing of the credentials in any span.
    expect(JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes))).not.toContain(
      "trace-canary-password",
    );
  });

  it.skipIf(!hasPostgres)("records a failed stage with its reason", async () => {
    const r = await b.api("/api/connections/test", {
      body: {
        name: "closed",
        type: "postgresql",
        server: "127.0.0.1",
        port: 1,
        database: "d",
        username: "u",
        password: "",
      },
    });
    expect(r.status).toBe(422);
    const [tcp] = named("berth.check.tcp");
    expect(tcp!.status.code).toBe(SpanStatusCode.ERROR);
    expect(tcp!.attributes["error.type"]).toMatch(/connection_refused/);
  });

  it.skipIf(!hasPostgres)(
    "has child spans for the pool acquire and the statement of an Execute",
    async () => {
      const client = brokerClients(b.url, b.adminToken);
      const out = await collect(
        client.broker.execute(
          { target: { case: "connectionId", value: pgId }, statement: stmt("SELECT 'secret-literal' AS x") },
          client.call,
        ),
      );
      expect(out.rows.length).toBe(1);
      const [call] = named("berth.v1.BrokerService/Execute");
      expect(call!.attributes["berth.transport"]).toBe("grpc");
      const children = childrenOf(call!);
      expect(children.map((s) => s.name)).toEqual(
        expect.arrayContaining(["berth.pool.acquire", "berth.statement"]),
      );
      const statement = children.find((s) => s.name === "berth.statement")!;
      expect(statement.attributes["db.system"]).toBe("postgresql");
      // The statement's text is not in the trace.
      expect(JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes))).not.toContain(
        "secret-literal",
      );
    },
  );

  it("makes no span and no trace id once tracing is off", async () => {
    await tracing!.shutdown();
    tracing = undefined;
    expect(tracingEnabled()).toBe(false);
    await b.api("/api/connections", { headers: { "x-request-id": "untraced-1" } });
    expect(exporter.getFinishedSpans()).toEqual([]);
    const lines = logLinesOf("untraced-1");
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const l of lines) expect(l.trace_id).toBeUndefined();
  });
});
