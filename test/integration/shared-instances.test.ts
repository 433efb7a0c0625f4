import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Berth, startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, requestJson } from "../support/test-berth.js";
import { createTestDatabase } from "../support/test-store.js";
import { until } from "../support/waits.js";

/**
 * Two instances on one PostgreSQL store and one Redis (shared mode): what is created on one is
 * there on the other at once, a revoke or a disabled user announced on one ends the front-door
 * clients open on the other within 1 s and frees their backends, and the audit log stays one chain
 * with events from both.
 */
const hasRedis = await serviceAvailable("redis");
const hasPostgres = await serviceAvailable("postgres");

describe.skipIf(!hasRedis || !hasPostgres)("two instances sharing a store", () => {
  const instances: Berth[] = [];
  let dir = "";
  let dropStore = async () => {};
  let a: Berth;
  let b: Berth;
  let token = "";
  let id = "";
  const MEMBERS = { mia: "mia-shared-pw-0001", noah: "noah-shared-pw-0001" };
  const userIds: Record<string, string> = {};

  async function api(on: Berth, path: string, init: { method?: string; body?: unknown } = {}) {
    const res = await requestJson(on.url + path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.status, body: res.text ? JSON.parse(res.text) : undefined, text: res.text };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-shared-"));
    const store = await createTestDatabase();
    dropStore = store.drop;
    const masterKey = randomBytes(32).toString("base64");
    const start = () =>
      startBerth(
        loadConfig({
          BERTH_PORT: "0",
          BERTH_PG_PORT: "0",
          // One keyring for both (shared mode needs the same keys everywhere).
          BERTH_DATA_DIR: dir,
          BERTH_STORE_URL: store.url,
          BERTH_MASTER_KEY: masterKey,
          BERTH_REDIS_URL: `redis://${LOCAL.redis.host}:${LOCAL.redis.port}`,
          BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
          BERTH_RATE_LIMITS: "off",
          BERTH_LOG_LEVEL: "silent",
        }),
        { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) },
      );
    a = await start();
    instances.push(a);
    b = await start();
    instances.push(b);
    token = (await api(a, "/api/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD } })).body
      .token;
    const created = await api(a, "/api/connections", {
      body: {
        name: "shared-fd",
        type: "postgresql",
        server: "127.0.0.1",
        port: 5432,
        database: "test",
        username: "postgres",
        password: "",
        maxPoolSize: 2,
      },
    });
    expect(created.status, created.text).toBe(201);
    id = created.body.id;
    for (const [username, password] of Object.entries(MEMBERS)) {
      const u = await api(b, "/api/users", { body: { username, password } });
      expect(u.status, u.text).toBe(201);
      userIds[username] = u.body.id;
      expect(
        (await api(b, `/api/connections/${id}/access`, { body: { userId: u.body.id, accessLevel: "user" } }))
          .status,
      ).toBe(201);
    }
  }, 60_000);

  afterAll(async () => {
    for (const i of instances) await i.close();
    await dropStore();
    await rm(dir, { recursive: true, force: true });
  });

  async function clientOnA(user: keyof typeof MEMBERS) {
    const c = new pg.Client({
      host: "127.0.0.1",
      port: a.pgPort,
      user,
      password: MEMBERS[user],
      database: "shared-fd",
    });
    const errors: { code?: string; message: string }[] = [];
    c.on("error", (e) => errors.push(e as { code?: string; message: string }));
    await c.connect();
    await c.query("BEGIN");
    await c.query("select 1");
    return { c, errors };
  }

  it("created on one, readable on the other at once", async () => {
    const onB = await api(b, `/api/connections/${id}`);
    expect(onB.status).toBe(200);
    expect(onB.body).toMatchObject({ name: "shared-fd", server: "127.0.0.1", maxPoolSize: 2 });
  });

  it("a revoke on B ends the front-door client on A within 1 s and frees its backend", async () => {
    const { c, errors } = await clientOnA("mia");
    const started = Date.now();
    expect((await api(b, `/api/connections/${id}/access/${userIds.mia}`, { method: "DELETE" })).status).toBe(
      204,
    );
    await until("the client on A is ended", () => errors.length > 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errors[0]).toMatchObject({ code: "57P01" });
    await until(
      "A's pool has nothing in use",
      async () => (await api(a, `/api/connections/${id}/status`)).body.pool?.inUse === 0,
    );
    await c.end().catch(() => {});
  });

  it("a user disabled on B ends their client on A within 1 s", async () => {
    const { c, errors } = await clientOnA("noah");
    const started = Date.now();
    const disabled = await api(b, `/api/users/${userIds.noah}`, {
      method: "PATCH",
      body: { disabled: true },
    });
    expect(disabled.status, disabled.text).toBeLessThan(300);
    await until("the client on A is ended", () => errors.length > 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errors[0]).toMatchObject({ code: "57P01" });
    await c.end().catch(() => {});
  });

  it("the audit log is one chain with events from both instances", async () => {
    const verified = await api(b, "/api/audit/verify", { body: {} });
    expect(verified.status, verified.text).toBe(200);
    expect(verified.body.ok).toBe(true);
    const events = (await api(a, "/api/audit?pageSize=500")).body.events as { action: string }[];
    expect(events.some((e) => e.action === "frontdoor.open")).toBe(true);
    expect(events.some((e) => e.action === "frontdoor.close")).toBe(true);
  });
});
