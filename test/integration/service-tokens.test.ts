import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { storeContents, withRawStore } from "../support/test-store.js";

const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth({ BERTH_GRPC_PORT: "0" });
});
afterAll(async () => b?.close());

const pg = (name: string) => ({
  name,
  type: "postgresql",
  server: LOCAL.postgres.host,
  database: "test",
  username: "postgres",
  password: "",
});

describe.skipIf(!hasPostgres)("service tokens (for internal services over gRPC)", () => {
  it("reach only the connections they name, no further than their level, and revoke at once", async () => {
    const a = (await b.api("/api/connections", { body: pg("svc-a") })).body.id as string;
    const other = (await b.api("/api/connections", { body: pg("svc-b") })).body.id as string;
    const created = await b.api("/api/tokens", {
      body: { name: "orders-api", connectionIds: [a], accessLevel: "user" },
    });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect(token).toMatch(/^berth_t_[A-Za-z0-9_-]{43}$/);
    expect(created.body.serviceToken).toMatchObject({
      name: "orders-api",
      connectionIds: [a],
      accessLevel: "user",
      revokedAt: null,
    });

    // Shown once: stored only as a hash, listed without the secret.
    const listed = await b.api("/api/tokens");
    expect(listed.text).not.toContain(token);
    // Nowhere in the store or the data directory: the SQLite file, its write-ahead log, the keyring.
    for (const f of await storeContents(b.dataDir)) expect(f.bytes.includes(token), f.name).toBe(false);

    const broker = createClient(
      BrokerService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${b.berth.grpcPort}` }),
    );
    const run = async (id: string) => {
      for await (const _ of broker.execute(
        { target: { case: "connectionId", value: id }, statement: { sql: "SELECT 1", params: [] } },
        { headers: { authorization: `Bearer ${token}` } },
      )) {
        // drain
      }
    };
    await run(a);
    expect(ConnectError.from(await run(other).catch((e) => e)).code).toBe(Code.NotFound);
    // "user" is not "editor": it may not change the connection; nor manage users.
    expect(
      (
        await b.api(`/api/connections/${a}`, {
          method: "PUT",
          body: { name: "svc-a", type: "postgresql", server: "127.0.0.1", database: "test" },
          token,
        })
      ).status,
    ).toBe(403);
    expect((await b.api("/api/users", { token })).status).toBe(403);
    expect(
      (await b.api("/api/connections", { token })).body.connections.map((c: { id: string }) => c.id),
    ).toEqual([a]);
    expect((await b.api("/api/auth/me", { token })).body.user).toMatchObject({
      username: "orders-api",
      role: "service",
    });

    expect((await b.api(`/api/tokens/${created.body.serviceToken.id}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect(ConnectError.from(await run(a).catch((e) => e)).code).toBe(Code.Unauthenticated);
  });

  it("expire, and refuse bad requests", async () => {
    const a = (await b.api("/api/connections", { body: pg("svc-c") })).body.id as string;
    expect(
      (await b.api("/api/tokens", { body: { name: "x", connectionIds: [], accessLevel: "user" } })).status,
    ).toBe(400);
    expect(
      (await b.api("/api/tokens", { body: { name: "x", connectionIds: [a], accessLevel: "owner" } })).status,
    ).toBe(400);
    expect((await b.api("/api/tokens", { body: { name: "x", connectionIds: ["nope"] } })).status).toBe(400);
    const short = await b.api("/api/tokens", {
      body: { name: "short-lived", connectionIds: [a], ttlMs: 60000 },
    });
    expect(short.status).toBe(201);
    expect(Date.parse(short.body.serviceToken.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    // Let it lapse (in the store, rather than wait a minute), then use it.
    await withRawStore(b.dataDir, (raw) =>
      raw.run(
        "update service_tokens set expires_at = ? where id = ?",
        new Date(Date.now() - 1000).toISOString(),
        short.body.serviceToken.id,
      ),
    );
    const expired = await b.api("/api/auth/me", { token: short.body.token });
    expect(expired.status).toBe(401);
    expect(expired.body.details.reason).toBe("token_expired");
    expect((await b.api("/api/auth/me", { token: `berth_t_${"x".repeat(43)}` })).status).toBe(401);
  });
});
