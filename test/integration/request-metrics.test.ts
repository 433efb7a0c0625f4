import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { PROMTOOL, promtool, samples, sumOf } from "../support/prometheus.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

const METRICS_TOKEN = "metrics-token-for-the-request-metrics-test";
const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth({ BERTH_METRICS_TOKEN: METRICS_TOKEN, BERTH_LOGIN_FAILURE_DELAY_MS: "0" });
});
afterAll(async () => b?.close());

async function scrape(): Promise<string> {
  const res = await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

const LIST = { method: "berth.v1.ConnectionService/ListConnections" };

describe("/metrics after a known sequence of calls", () => {
  it("counts each call by transport, method, route and code, and times it", async () => {
    for (let i = 0; i < 3; i++) expect((await b.api("/api/connections")).status).toBe(200);
    expect((await b.api("/api/connections", { token: null })).status).toBe(401);
    for (let i = 0; i < 2; i++) {
      const r = await b.api("/api/auth/login", {
        body: { username: "admin", password: "wrong" },
        token: null,
      });
      expect(r.status).toBe(401);
    }
    // The same RPC over the Connect protocol (JSON): another transport, no route.
    const rpc = await fetch(`${b.url}/berth.v1.ConnectionService/ListConnections`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${b.adminToken}` },
      body: "{}",
    });
    expect(rpc.status).toBe(200);

    // Paths no route has: one series, whatever the paths (a probe's paths are not labels).
    expect((await b.api("/api/no-such-thing")).status).toBe(404);
    expect((await b.api("/api/also/missing")).status).toBe(404);
    expect((await b.api("/api/connections", { method: "PATCH", body: {} })).status).toBe(405);

    const m = samples(await scrape());
    const unmatched = { transport: "rest", method: "", route: "unmatched" };
    expect(sumOf(m, "berth_requests_total", { ...unmatched, code: "not_found" })).toBe(2);
    expect(sumOf(m, "berth_requests_total", { ...unmatched, code: "unimplemented" })).toBe(1);
    expect([...m.keys()].some((k) => k.includes("no-such-thing"))).toBe(false);
    const rest = { ...LIST, transport: "rest", route: "GET /api/connections" };
    expect(sumOf(m, "berth_requests_total", { ...rest, code: "ok" })).toBe(3);
    expect(sumOf(m, "berth_requests_total", { ...rest, code: "unauthenticated" })).toBe(1);
    expect(sumOf(m, "berth_request_duration_seconds_count", rest)).toBe(4);
    expect(sumOf(m, "berth_requests_total", { ...LIST, transport: "connect", route: "", code: "ok" })).toBe(
      1,
    );
    const login = { method: "berth.v1.AuthService/Login", route: "POST /api/auth/login" };
    expect(sumOf(m, "berth_requests_total", { ...login, code: "unauthenticated" })).toBe(2);
    // Security events: the refused call and the two failed sign-ins, told apart.
    expect(sumOf(m, "berth_security_events_total", { event: "unauthenticated" })).toBe(1);
    expect(sumOf(m, "berth_security_events_total", { event: "sign_in_failed" })).toBe(2);
    expect(sumOf(m, "berth_errors_total", { kind: "unauthenticated", reason: "invalid_credentials" })).toBe(
      2,
    );
  });

  it("exports from the start, at 0, the series the alerts read with increase()", async () => {
    // A series born at 1 is no increase to Prometheus: a single event would never fire its alert.
    const m = samples(await scrape());
    for (const event of ["security_violation", "credential_integrity_failed", "audit_chain_broken"])
      expect(m.get(`berth_security_events_total{event="${event}"}`)).toBe(0);
    for (const engine of ["postgresql", "mysql", "sqlserver", "oracle"])
      expect(m.get(`berth_connection_checks_total{kind="test",engine="${engine}",outcome="failed"}`)).toBe(0);
  });

  it("has the process metrics under their usual names", async () => {
    const text = await scrape();
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(text).not.toMatch(/berth_process_/);
  });

  it.skipIf(!hasPostgres)("counts connection tests by engine and outcome, stage by stage", async () => {
    const spec = {
      name: "metrics-pg",
      type: "postgresql",
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      username: LOCAL.postgres.user,
      password: "",
    };
    const created = await b.api("/api/connections", { body: spec });
    expect(created.status).toBe(201);
    const before = samples(await scrape());
    const ok = { kind: "test", engine: "postgresql", outcome: "ok" };
    const failed = { ...ok, outcome: "failed" };
    const okBefore = sumOf(before, "berth_connection_checks_total", ok);
    expect((await b.api(`/api/connections/${created.body.id}/test`, { body: {} })).status).toBe(200);
    expect(
      (await b.api("/api/connections/test", { body: { ...spec, name: "closed", port: 1 } })).status,
    ).toBe(422);
    const m = samples(await scrape());
    expect(sumOf(m, "berth_connection_checks_total", ok)).toBe(okBefore + 1);
    expect(sumOf(m, "berth_connection_checks_total", failed)).toBe(1);
    const stage = { kind: "test", engine: "postgresql", stage: "tcp", reason: "connection_refused" };
    expect(sumOf(m, "berth_connection_check_failures_total", stage)).toBe(1);
    expect(
      sumOf(m, "berth_connection_check_stage_duration_seconds_count", {
        engine: "postgresql",
        stage: "auth",
        outcome: "passed",
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it("counts a broken audit chain found by Verify as a security event", async () => {
    const event = { event: "audit_chain_broken" };
    expect(sumOf(samples(await scrape()), "berth_security_events_total", event)).toBe(0);
    const intact = await b.api("/api/audit/verify", { body: {} });
    expect(intact.body.ok).toBe(true);
    expect(sumOf(samples(await scrape()), "berth_security_events_total", event)).toBe(0);
    // Someone with the store's file rewrites history.
    const db = b.berth.store.db;
    const first = await db
      .selectFrom("audit_events")
      .select("seq")
      .orderBy("seq")
      .limit(1)
      .executeTakeFirstOrThrow();
    await db.updateTable("audit_events").set({ outcome: "tampered" }).where("seq", "=", first.seq).execute();
    const broken = await b.api("/api/audit/verify", { body: {} });
    expect(broken.body.ok).toBe(false);
    expect(sumOf(samples(await scrape()), "berth_security_events_total", event)).toBe(1);
  });

  it.skipIf(!hasPostgres)("counts callers refused by a full pool, and shows its utilisation", async () => {
    const created = await b.api("/api/connections", {
      body: {
        name: "metrics-pool-one",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: "",
        maxPoolSize: 1,
        acquireTimeoutMs: 200,
      },
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const client = brokerClients(b.url, b.adminToken);
    const run = (sql: string) =>
      collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt(sql) },
          client.call,
        ),
      );
    const slow = run("SELECT pg_sleep(1.5)");
    const labels = { connection_id: id, connection_name: "metrics-pool-one" };
    // While the one session is busy: utilisation 1, and a second caller is turned away.
    await until("the session to be in use", async () =>
      sumOf(samples(await scrape()), "berth_pool_sessions", { ...labels, state: "in_use" }) === 1
        ? true
        : undefined,
    );
    const before = samples(await scrape());
    expect(sumOf(before, "berth_pool_utilization_ratio", labels)).toBe(1);
    await expect(run("SELECT 1")).rejects.toThrow(/pool/i);
    await slow;
    const m = samples(await scrape());
    expect(sumOf(m, "berth_pool_acquire_failures_total", { ...labels, reason: "pool_exhausted" })).toBe(1);
    // It existed at 0 from the pool's opening (the first refusal is an increase).
    expect(
      before.get(
        `berth_pool_acquire_failures_total{connection_id="${id}",connection_name="metrics-pool-one",reason="pool_exhausted"}`,
      ),
    ).toBe(0);
    expect(sumOf(m, "berth_pool_acquire_wait_seconds_count", labels)).toBe(1);
    expect(sumOf(m, "berth_query_duration_seconds_count", labels)).toBe(1);
    expect(sumOf(m, "berth_errors_total", { kind: "pool_operation_failed", reason: "pool_exhausted" })).toBe(
      1,
    );
  });

  it.skipIf(!PROMTOOL)("is a valid exposition by promtool check metrics", async () => {
    const r = await promtool(["check", "metrics"], await scrape());
    // It parses (a parse error is reported as such), and its only lint findings are prom-client's
    // three stock gauges, whose names every Node.js dashboard expects as they are.
    const findings = r.output.split("\n").filter((l) => l !== "");
    const stock =
      /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    expect(findings.filter((l) => !stock.test(l))).toEqual([]);
    expect(r.output).not.toMatch(/error/i);
  });

  it.skipIf(!PROMTOOL)("promtool catches a broken exposition (the check can fail)", async () => {
    const r = await promtool(["check", "metrics"], '# TYPE x counter\nx{a="1" 1\n');
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/error/i);
    const lint = await promtool(
      ["check", "metrics"],
      "# HELP y_total a gauge\n# TYPE y_total gauge\ny_total 1\n",
    );
    expect(lint.output).toMatch(/y_total non-counter/);
  });
});
