import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { type Berth, startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { RetryInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD } from "../support/test-berth.js";
import { createTestDatabase } from "../support/test-store.js";
import { startThrowawayRedis } from "../support/throwaway-redis.js";

const hasRedis = await serviceAvailable("redis");
const hasPostgres = await serviceAvailable("postgres");

const started: Berth[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const b of started) await b.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function instance(dataDir: string, env: Record<string, string> = {}) {
  const berth = await startBerth(
    loadConfig({
      BERTH_PORT: "0",
      BERTH_DATA_DIR: dataDir,
      BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
      BERTH_LOG_LEVEL: "silent",
      ...env,
    }),
    { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) },
  );
  started.push(berth);
  const api = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
    const res = await fetch(berth.url + path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        "content-type": "application/json",
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const login = async (username: string, password: string) =>
    (await api("/api/auth/login", { body: { username, password } })).body.token as string;
  return { berth, api, login };
}

async function freshDir() {
  const d = await mkdtemp(join(tmpdir(), "berth-rl-"));
  dirs.push(d);
  return d;
}

const spec = (name: string) => ({
  name,
  type: "postgresql",
  server: "127.0.0.1",
  database: "d",
  username: "u",
  password: "p",
});

describe("the RFC's rate limits", () => {
  it("allow 10 connection creations an hour, then answer 429 with Retry-After and X-RateLimit-*", async () => {
    const a = await instance(await freshDir(), { BERTH_RATE_LIMITS: "rfc" });
    const token = await a.login("admin", ADMIN_PASSWORD);
    for (let i = 0; i < 10; i++) {
      const r = await a.api("/api/connections", { body: spec(`rl-${i}`), token });
      expect(r.status).toBe(201);
      expect(r.headers.get("x-ratelimit-limit")).toBe("10");
      expect(r.headers.get("x-ratelimit-remaining")).toBe(String(9 - i));
    }
    const refused = await a.api("/api/connections", { body: spec("rl-10"), token });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: "rate_limited",
      details: { reason: "rate_limited", limit: 10 },
    });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3_000);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    // And on Connect/gRPC: RESOURCE_EXHAUSTED with google.rpc.RetryInfo.
    const client = createClient(
      ConnectionService,
      createConnectTransport({ baseUrl: a.berth.url, httpVersion: "1.1" }),
    );
    const err = ConnectError.from(
      await client
        .createConnection(
          { spec: { ...spec("rl-11"), type: Engine.POSTGRESQL } },
          { headers: { authorization: `Bearer ${token}` } },
        )
        .catch((e) => e),
    );
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(Number(err.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds)).toBeGreaterThan(3_000);
    // Listing has its own budget.
    expect((await a.api("/api/connections", { token })).status).toBe(200);
  });

  it.skipIf(!hasRedis || !hasPostgres)(
    "are shared by two instances through Redis, and so are revocations (within 1 s)",
    async () => {
      // Two instances share a store through PostgreSQL (one SQLite data directory takes one
      // process), and the keyring of one data directory.
      const dir = await freshDir();
      const store = await createTestDatabase();
      const onStore: Berth[] = [];
      onTestFinished(async () => {
        for (const berth of onStore) await berth.close();
        await store.drop();
      });
      const env = {
        BERTH_RATE_LIMITS: "rfc",
        BERTH_REDIS_URL: `redis://${LOCAL.redis.host}:${LOCAL.redis.port}`,
        BERTH_STORE_URL: store.url,
        BERTH_MASTER_KEY: randomBytes(32).toString("base64"),
      };
      const a = await instance(dir, env);
      onStore.push(a.berth);
      const b = await instance(dir, env);
      onStore.push(b.berth);
      const ta = await a.login("admin", ADMIN_PASSWORD);
      const tb = await b.login("admin", ADMIN_PASSWORD);
      for (let i = 0; i < 10; i++) {
        const on = i % 2 === 0 ? a : b;
        expect(
          (await on.api("/api/connections", { body: spec(`shared-${i}`), token: i % 2 === 0 ? ta : tb }))
            .status,
        ).toBe(201);
      }
      expect((await a.api("/api/connections", { body: spec("shared-a"), token: ta })).status).toBe(429);
      expect((await b.api("/api/connections", { body: spec("shared-b"), token: tb })).status).toBe(429);

      // Revocations: a member uses a connection through B (B caches the decision), A revokes.
      // The creation budget is spent: point one of the ten at the real PostgreSQL instead.
      const id = (await a.api("/api/connections", { token: ta })).body.connections[0].id as string;
      await a.api(`/api/connections/${id}`, {
        method: "PUT",
        token: ta,
        body: {
          name: (await a.api(`/api/connections/${id}`, { token: ta })).body.name,
          type: "postgresql",
          server: LOCAL.postgres.host,
          database: "test",
          username: "postgres",
          password: "",
        },
      });
      const member = (
        await a.api("/api/users", { body: { username: "mia", password: "mia-password-12" }, token: ta })
      ).body;
      await a.api(`/api/connections/${id}/access`, {
        body: { userId: member.id, accessLevel: "user" },
        token: ta,
      });
      const tm = await b.login("mia", "mia-password-12");
      const broker = createClient(BrokerService, createGrpcTransport({ baseUrl: b.berth.url }));
      const run = async () => {
        for await (const _ of broker.execute(
          { target: { case: "connectionId", value: id }, statement: { sql: "SELECT 1", params: [] } },
          { headers: { authorization: `Bearer ${tm}` } },
        )) {
          // drain
        }
      };
      await run();
      expect(
        (await a.api(`/api/connections/${id}/access/${member.id}`, { method: "DELETE", token: ta })).status,
      ).toBe(204);
      const deadline = Date.now() + 1_000;
      let code: Code | undefined;
      while (Date.now() < deadline) {
        code = await run().then(
          () => undefined,
          (e) => ConnectError.from(e).code,
        );
        if (code !== undefined) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(code).toBe(Code.NotFound);
    },
  );

  it.skipIf(!hasRedis)(
    "when Redis dies: limits fall back to each instance's memory, sign-in fails closed",
    async () => {
      const redis = await startThrowawayRedis();
      const a = await instance(await freshDir(), { BERTH_RATE_LIMITS: "rfc", BERTH_REDIS_URL: redis.url });
      const token = await a.login("admin", ADMIN_PASSWORD);
      await redis.stop();
      const started = Date.now();
      for (let i = 0; i < 10; i++)
        expect((await a.api("/api/connections", { body: spec(`down-${i}`), token })).status).toBe(201);
      expect((await a.api("/api/connections", { body: spec("down-10"), token })).status).toBe(429);
      // No waiting on a dead Redis.
      expect(Date.now() - started).toBeLessThan(5_000);
      // Sign-in cannot be throttled without the shared counter: it is refused, not left open.
      const login = await a.api("/api/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD } });
      expect(login.status).toBe(503);
      expect(login.body.details.reason).toBe("throttle_unavailable");
    },
  );
});
