import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth();
});
afterAll(async () => b?.close());

const pgSpec = {
  name: "local-pg",
  type: "postgresql",
  server: LOCAL.postgres.host,
  port: LOCAL.postgres.port,
  database: LOCAL.postgres.database,
  username: LOCAL.postgres.user,
  password: "pg-canary-password",
};
const mariaSpec = {
  name: "local-mariadb",
  type: "mysql",
  server: LOCAL.mariadb.host,
  port: LOCAL.mariadb.port,
  database: LOCAL.mariadb.database,
  username: LOCAL.mariadb.user,
  password: "",
};

/** A TCP server that accepts and never says a word: a check against it can only end by its timeout. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

async function connectionCount(): Promise<number> {
  return (await b.api("/api/connections?pageSize=500")).body.connections.length;
}

describe("REST: the RFC's paths on a real server", () => {
  it("signs in and answers /api/auth/me", async () => {
    const me = await b.api("/api/auth/me");
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ username: "admin", role: "admin" });
    expect(me.headers.get("x-request-id")).toBeTruthy();
  });

  it("refuses the API without a token", async () => {
    const r = await b.api("/api/connections", { token: null });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: "unauthenticated", details: { reason: "missing_credentials" } });
  });

  it.skipIf(!hasPostgres)(
    "creates a PostgreSQL connection, lists it without credentials, and tests it in stages",
    async () => {
      const created = await b.api("/api/connections", { body: pgSpec });
      expect(created.status).toBe(201);
      expect(created.headers.get("location")).toBe(`/api/connections/${created.body.id}`);
      expect(created.body).toMatchObject({
        name: "local-pg",
        type: "postgresql",
        status: "untested",
        lastTestedAt: null,
        version: 1,
      });
      expect(created.body).not.toHaveProperty("password");
      expect(created.body).not.toHaveProperty("username");
      const list = await b.api("/api/connections");
      expect(list.text).not.toContain("pg-canary-password");
      expect(list.body.connections.map((c: { name: string }) => c.name)).toContain("local-pg");

      const tested = await b.api(`/api/connections/${created.body.id}/test`, { body: {} });
      expect(tested.status).toBe(200);
      expect(tested.body.ok).toBe(true);
      expect(tested.body.serverVersion).toMatch(/^PostgreSQL \d+/);
      expect(tested.body.stages.map((s: { stage: string }) => s.stage)).toEqual([
        "dns",
        "tcp",
        "tls",
        "auth",
        "query",
      ]);
      for (const s of tested.body.stages) expect(s.durationMs).toBeTypeOf("number");
      const after = await b.api(`/api/connections/${created.body.id}`);
      expect(after.body.status).toBe("healthy");
      expect(after.body.lastTestedAt).not.toBeNull();
      const status = await b.api(`/api/connections/${created.body.id}/status`);
      // No BERTH_PG_PORT here: the front door is off, and the status says so rather than "no clients".
      expect(status.body).toMatchObject({ status: "healthy", lastTest: { ok: true }, frontDoor: null });
    },
  );

  it.skipIf(!hasMariadb)("creates and tests a MariaDB connection", async () => {
    const created = await b.api("/api/connections", { body: mariaSpec });
    expect(created.status).toBe(201);
    const tested = await b.api(`/api/connections/${created.body.id}/test`, { body: {} });
    expect(tested.status).toBe(200);
    expect(tested.body.serverVersion).toMatch(/MariaDB|MySQL/);
  });

  it.skipIf(!hasPostgres)("validates without signing in: config, credentials, dns, tcp", async () => {
    const created = await b.api("/api/connections", {
      body: { ...pgSpec, name: "validate-me", password: "wrong-but-unused" },
    });
    const v = await b.api(`/api/connections/${created.body.id}/validate`, { body: {} });
    expect(v.status).toBe(200);
    expect(v.body.stages.map((s: { stage: string; outcome: string }) => `${s.stage}:${s.outcome}`)).toEqual([
      "config:passed",
      "credentials:passed",
      "dns:passed",
      "tcp:passed",
    ]);
  });

  it("tests an unsaved configuration before saving, and saves nothing", async () => {
    const before = await connectionCount();
    const r = await b.api("/api/connections/test", { body: { ...pgSpec, name: "unsaved", port: 1 } });
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({ reason: "connection_refused", stage: "tcp" });
    expect(await connectionCount()).toBe(before);
  });

  it("takes timeoutMs as a body field on an unsaved test, as on a saved one", async () => {
    const silent = await silentServer();
    try {
      const target = { ...pgSpec, name: "silent", server: "127.0.0.1", port: silent.port };
      // The default bound is 5 s; an answer well inside it shows the body's 300 ms was applied.
      const unsavedStarted = performance.now();
      const unsaved = await b.api("/api/connections/test", { body: { ...target, timeoutMs: 300 } });
      expect(unsaved.status).toBe(422);
      expect(unsaved.body.details.reason).toBe("timeout");
      expect(performance.now() - unsavedStarted).toBeLessThan(3_000);

      const created = await b.api("/api/connections", { body: target });
      const savedStarted = performance.now();
      const saved = await b.api(`/api/connections/${created.body.id}/test`, { body: { timeoutMs: 300 } });
      expect(saved.status).toBe(422);
      expect(saved.body.details.reason).toBe("timeout");
      expect(performance.now() - savedStarted).toBeLessThan(3_000);

      const tooLong = await b.api("/api/connections/test", { body: { ...target, timeoutMs: 999_999 } });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.details.fields.timeoutMs).toMatch(/from 100 to/);
    } finally {
      await silent.close();
    }
  });

  it("reports useSsl as whether TLS is used or attempted: true unless sslMode is disable", async () => {
    const modes = { prefer: true, require: true, "verify-full": true, disable: false };
    for (const [sslMode, useSsl] of Object.entries(modes)) {
      const created = await b.api("/api/connections", {
        body: { ...pgSpec, name: `tls-${sslMode}`, sslMode },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ sslMode, useSsl });
      expect((await b.api(`/api/connections/${created.body.id}`)).body).toMatchObject({ sslMode, useSsl });
    }
    // The engine's default (prefer for PostgreSQL) when nothing is said.
    const byDefault = await b.api("/api/connections", { body: { ...pgSpec, name: "tls-default" } });
    expect(byDefault.body).toMatchObject({ sslMode: "prefer", useSsl: true });
  });

  it("updates with If-Match, refuses a stale write with 409, and deletes", async () => {
    const created = await b.api("/api/connections", { body: { ...pgSpec, name: "versioned" } });
    const id = created.body.id;
    expect(created.headers.get("etag")).toBe('"1"');
    const { username: _u, password: _p, ...noCreds } = pgSpec;
    const put = await b.api(`/api/connections/${id}`, {
      method: "PUT",
      body: { ...noCreds, name: "versioned", maxPoolSize: 20 },
      headers: { "if-match": '"1"' },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ maxPoolSize: 20, version: 2 });
    const stale = await b.api(`/api/connections/${id}`, {
      method: "PUT",
      body: { ...noCreds, name: "versioned", maxPoolSize: 30, version: 1 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({
      error: "conflict",
      details: { reason: "version_mismatch", current_version: 2 },
    });
    expect((await b.api(`/api/connections/${id}`)).body.maxPoolSize).toBe(20);
    expect((await b.api(`/api/connections/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await b.api(`/api/connections/${id}`)).status).toBe(404);
  });
});

describe("REST: bad input gets a clear error and writes nothing", () => {
  const cases: [string, unknown, string[]][] = [
    ["missing fields", { name: "x" }, ["type", "server", "database", "username", "password"]],
    ["an unknown engine", { ...pgSpec, name: "e", type: "mongodb" }, ["type"]],
    ["port 0", { ...pgSpec, name: "p0", port: 0 }, ["port"]],
    ["port 70000", { ...pgSpec, name: "p7", port: 70000 }, ["port"]],
    ["a 10,000-character name", { ...pgSpec, name: "n".repeat(10_000) }, ["name"]],
    ["ill-typed fields", { ...pgSpec, name: "t", port: "5432x", useSsl: "yes" }, ["port", "useSsl"]],
    ["an unknown field", { ...pgSpec, name: "u", hostname: "x" }, ["hostname"]],
    ["a hostile server name", { ...pgSpec, name: "h", server: "db; rm -rf /" }, ["server"]],
    ["an array body", [1, 2], ["body"]],
  ];
  it.each(cases)("%s → 400 with a reason per field", async (_label, body, fields) => {
    const before = await connectionCount();
    const r = await b.api("/api/connections", { body });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("validation_failed");
    for (const f of fields) expect(r.body.details.fields[f], `reason for ${f}`).toBeTypeOf("string");
    expect(await connectionCount()).toBe(before);
  });

  it("malformed JSON → 400", async () => {
    const r = await b.api("/api/connections", { body: '{"name": "x",' });
    expect(r.status).toBe(400);
    expect(r.body.details.fields.body).toMatch(/not valid JSON/);
  });

  it("an oversized body → 413, and the server keeps serving", async () => {
    const r = await b.api("/api/connections", {
      body: { ...pgSpec, description: "x".repeat(2 * 1024 * 1024) },
    });
    expect(r.status).toBe(413);
    expect(r.body.error).toBe("payload_too_large");
    expect((await b.api("/api/auth/me")).status).toBe(200);
  });

  it("unknown ids and paths → 404; wrong verbs → 405", async () => {
    expect((await b.api("/api/connections/00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await b.api("/api/connections/%27%20OR%201%3D1--")).status).toBe(404);
    expect((await b.api("/api/connections/not-a-uuid/test", { body: {} })).status).toBe(404);
    expect((await b.api("/api/nothing-here")).status).toBe(404);
    expect((await b.api("/api/connections", { method: "PATCH", body: {} })).status).toBe(405);
  });

  it("an out-of-range test timeout → 400", async () => {
    const created = await b.api("/api/connections", { body: { ...pgSpec, name: "timeouts" } });
    const r = await b.api(`/api/connections/${created.body.id}/test`, { body: { timeoutMs: 999_999 } });
    expect(r.status).toBe(400);
    expect(r.body.details.fields.timeoutMs).toBeTypeOf("string");
  });
});

describe("health endpoints", () => {
  it("answers /healthz and /readyz, each saying what it checked", async () => {
    const live = await fetch(`${b.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({
      status: "ok",
      checks: { process: "ok" },
      checked: { process: { state: "ok", what: expect.stringMatching(/answers HTTP.*\/readyz/) } },
    });
    const ready = await fetch(`${b.url}/readyz`);
    expect(ready.status).toBe(200);
    // Each check by name, what it did and how long it took; Redis named as not configured.
    const body = (await ready.json()) as {
      checks: Record<string, string>;
      checked: Record<string, { ms: number }>;
    };
    expect(body).toMatchObject({
      status: "ready",
      checks: { store: "ok", keys: "ok" },
      checked: {
        store: {
          state: "ok",
          what: `SELECT 1 on the ${process.env.BERTH_TEST_STORE === "postgres" ? "PostgreSQL" : "SQLite"} store`,
        },
        keys: { state: "ok", what: expect.stringContaining("local key provider") },
      },
      notChecked: { redis: "not configured (BERTH_REDIS_URL is unset)" },
    });
    expect(Object.keys(body.checks)).toEqual(["store", "keys"]);
    expect(body.checked.store?.ms).toBeGreaterThanOrEqual(0);
    expect(body.checked.store?.ms).toBeLessThan(1_000);
  });
});
