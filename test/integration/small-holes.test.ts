import { connect } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { collect, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const METRICS_TOKEN = "metrics-token-0123456789";

let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth({ BERTH_METRICS_TOKEN: METRICS_TOKEN });
});
afterAll(async () => b?.close());

const pgBody = (name: string) => ({
  name,
  type: "postgresql",
  server: LOCAL.postgres.host,
  port: LOCAL.postgres.port,
  database: LOCAL.postgres.database,
  username: LOCAL.postgres.user,
  password: "",
  sslMode: "disable",
});

describe("answers", () => {
  it("carry nosniff (REST, Connect, probes)", async () => {
    expect((await b.api("/api/auth/me")).headers.get("x-content-type-options")).toBe("nosniff");
    expect((await b.api("/api/nothing-here")).headers.get("x-content-type-options")).toBe("nosniff");
    const connect = await fetch(`${b.url}/berth.v1.AuthService/WhoAmI`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${b.adminToken}` },
      body: "{}",
    });
    expect(connect.status).toBe(200);
    expect(connect.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it.skipIf(!hasPostgres)("never show $typeName in JSON (status, reset)", async () => {
    const id = (await b.api("/api/connections", { body: pgBody("no-typename") })).body.id;
    const tested = await b.api(`/api/connections/${id}/test`, { body: {} });
    expect(tested.status).toBe(200);
    const reset = await b.api(`/api/connections/${id}/reset`, { body: {} });
    expect(reset.status).toBe(200);
    expect(reset.body.pool).toMatchObject({ inUse: 0 });
    const status = await b.api(`/api/connections/${id}/status`);
    expect(status.status).toBe(200);
    for (const text of [reset.text, status.text, tested.text]) expect(text).not.toContain("$typeName");
  });

  it("answer protobuf garbage with 400 invalid_argument, not 500", async () => {
    const res = await fetch(`${b.url}/berth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    // A good binary body still reaches the method (here: wrong credentials → 401).
    const good = await fetch(`${b.url}/berth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: Buffer.from([0x0a, 0x01, 0x78, 0x12, 0x01, 0x79]),
    });
    expect(good.status).toBe(401);
  });
});

describe("a request target that is no URL", () => {
  it("answers 400 and Berth keeps serving (new URL would have thrown in the handler)", async () => {
    for (const target of ["//%", "//[", "http://[/"]) {
      const raw = await new Promise<string>((resolve, reject) => {
        const u = new URL(b.url);
        const s = connect({ host: u.hostname, port: Number(u.port) }, () =>
          s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
        );
        let text = "";
        s.on("data", (c) => (text += c));
        s.on("end", () => resolve(text));
        s.on("error", reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 400/);
    }
    expect((await b.api("/healthz", { token: null })).status).toBe(200);
  });
});

describe("/metrics", () => {
  it("on the shared port answers only to its bearer token", async () => {
    expect((await fetch(`${b.url}/metrics`)).status).toBe(404);
    expect(
      (await fetch(`${b.url}/metrics`, { headers: { authorization: "Bearer wrong-token" } })).status,
    ).toBe(404);
    const ok = await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/berth_leases_active/);
  });

  it("has its own listener, bound to loopback by default, when BERTH_METRICS_PORT is set", async () => {
    expect(loadConfig({}).metrics).toEqual({ port: undefined, host: "127.0.0.1", token: undefined });
    const m = await startTestBerth({ BERTH_METRICS_PORT: "0" });
    try {
      expect(m.berth.metricsPort).toBeGreaterThan(0);
      const ok = await fetch(`http://127.0.0.1:${m.berth.metricsPort}/metrics`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/berth_leases_active/);
      expect((await fetch(`${m.url}/metrics`)).status).toBe(404);
      expect(m.logs.join("")).toMatch(/"metrics_port":\d+/);
    } finally {
      await m.close();
    }
  });
});

describe("refused requests", () => {
  it("are refused before their body is read, and logged without it", async () => {
    const canary = "body-canary-3141";
    // Not JSON at all: an anonymous caller is told 401, not how Berth parsed the body.
    const anon = await b.api("/api/connections", { body: `{"name": "${canary}"`, token: null });
    expect(anon.status).toBe(401);
    const logs = b.logs.join("");
    expect(logs).toMatch(/"route":"POST \/api\/connections".*"outcome":"Unauthenticated"/);
    const unrouted = await b.api("/api/no-such-route", { body: { name: canary } });
    expect(unrouted.status).toBe(404);
    expect(b.logs.join("")).toMatch(/"route":"POST \/api\/no-such-route".*"outcome":"not_found"/);
    expect(b.logs.join("")).not.toContain(canary);
  });

  it("still audit a change against its connection though its body is read after authentication", async () => {
    const id = (
      await b.api("/api/connections", { body: { ...pgBody("audited-update"), server: "127.0.0.1" } })
    ).body.id;
    const updated = await b.api(`/api/connections/${id}`, {
      method: "PUT",
      body: { ...pgBody("audited-update"), server: "127.0.0.1", description: "changed", version: 1 },
    });
    expect(updated.status, updated.text).toBe(200);
    const events = (await b.api("/api/audit?pageSize=1000")).body.events as Record<string, string>[];
    expect(events.some((e) => e.action?.endsWith("/UpdateConnection") && e.target === id)).toBe(true);
  });

  it.skipIf(!hasPostgres)("log a statement's error text at debug level only", async () => {
    const id = (await b.api("/api/connections", { body: pgBody("statement-errors") })).body.id;
    const broker = createClient(
      BrokerService,
      createConnectTransport({ baseUrl: b.url, httpVersion: "1.1" }),
    );
    const canary = "statement-canary-2718";
    const failed = await collect(
      broker.execute(
        { target: { case: "connectionId", value: id }, statement: stmt(`SELECT '${canary}'::int`) },
        { headers: { authorization: `Bearer ${b.adminToken}` } },
      ),
    ).catch((e: Error) => e);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toContain(canary);
    const logs = b.logs.join("");
    expect(logs).toMatch(/"method":"berth.v1.BrokerService\/Execute".*"reason":"query_failed"/);
    expect(logs).not.toContain(canary);
  });
});
