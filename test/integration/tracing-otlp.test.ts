import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tracingEnabled } from "../../src/observability/tracing.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/** A tiny OTLP/HTTP receiver: it keeps every request it gets. */
interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}
const received: Received[] = [];
let receiver: Server;
let port = 0;

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    received.push({
      path: req.url ?? "",
      contentType: String(req.headers["content-type"]),
      body: await bodyOf(req),
    });
    res.writeHead(200, { "content-type": "application/x-protobuf" });
    res.end();
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  port = (receiver.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

describe("OTLP export", () => {
  let b: TestBerth | undefined;
  afterAll(async () => b?.close());

  it("is off by default: no tracer, nothing sent", async () => {
    const plain = await startTestBerth();
    try {
      expect(tracingEnabled()).toBe(false);
      expect((await plain.api("/api/connections")).status).toBe(200);
    } finally {
      await plain.close();
    }
    expect(received).toEqual([]);
  });

  it("sends the call spans to BERTH_OTLP_ENDPOINT", async () => {
    // A collector behind basic auth in the URL: the log shows the endpoint without its password.
    b = await startTestBerth({
      BERTH_OTLP_ENDPOINT: `http://berth:otlp-canary-secret@127.0.0.1:${port}/v1/traces`,
      OTEL_SERVICE_NAME: "berth-otlp-test",
    });
    expect(tracingEnabled()).toBe(true);
    expect(b.logs.join("")).toContain(`"otlp_endpoint":"http://127.0.0.1:${port}/v1/traces"`);
    expect(b.logs.join("")).not.toContain("otlp-canary-secret");
    expect((await b.api("/api/connections")).status).toBe(200);
    // Closing flushes the batch: the receiver has it when close resolves.
    await b.close();
    b = undefined;
    await until("the receiver to get the spans", () => (received.length > 0 ? true : undefined), 5_000);
    expect(tracingEnabled()).toBe(false);
    expect(received[0]!.path).toBe("/v1/traces");
    // OTLP/HTTP with JSON encoding (the exporter's default): resource spans, scope spans, spans.
    expect(received[0]!.contentType).toContain("application/json");
    type Otlp = {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: { name: string; traceId: string; kind: number }[] }[];
      }[];
    };
    const payloads = received.map((r) => JSON.parse(r.body.toString("utf8")) as Otlp);
    const resources = payloads.flatMap((p) => p.resourceSpans);
    const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    expect(spans.map((s) => s.name)).toContain("berth.v1.ConnectionService/ListConnections");
    expect(spans.every((s) => /^[0-9a-f]{32}$/.test(s.traceId))).toBe(true);
    const service = resources[0]!.resource.attributes.find((a) => a.key === "service.name");
    expect(service?.value.stringValue).toBe("berth-otlp-test");
    // Nor does the password travel inside the spans.
    expect(received.map((r) => r.body.toString("utf8")).join("")).not.toContain("otlp-canary-secret");
  });
});
