import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { storeContents, withRawStore } from "../support/test-store.js";

const hasPostgres = await serviceAvailable("postgres");

/** Values that must never leave memory in plaintext. Distinctive, so a hit is never a coincidence. */
const CANARY_PASSWORD = "CANARY-pw-7f3a9c1e5b";
const CANARY_USERNAME = "canary_user_4d2b8e";

let b: TestBerth;
const responses: string[] = [];
let id = "";
let otherId = "";

beforeAll(async () => {
  b = await startTestBerth();
  const api = async (...args: Parameters<TestBerth["api"]>) => {
    const r = await b.api(...args);
    responses.push(r.text, JSON.stringify([...r.headers]));
    return r;
  };
  const spec = {
    name: "canary",
    type: "postgresql",
    server: LOCAL.postgres.host,
    port: LOCAL.postgres.port,
    database: "test",
    username: CANARY_USERNAME,
    password: CANARY_PASSWORD,
  };
  const created = await api("/api/connections", { body: spec });
  id = created.body.id;
  otherId = (
    await api("/api/connections", { body: { ...spec, name: "other", username: "postgres", password: "" } })
  ).body.id;
  await api(`/api/connections/${id}`);
  await api("/api/connections");
  // A failing test (the role does not exist) must not echo credentials either.
  await api(`/api/connections/${id}/test`, { body: {} });
  await api(`/api/connections/${id}/validate`, { body: {} });
  await api(`/api/connections/${id}/status`);
  await api("/api/connections/test", { body: { ...spec, name: "unsaved" } });
  const { username: _u, password: _p, ...rest } = spec;
  await api(`/api/connections/${id}`, { method: "PUT", body: { ...rest, password: CANARY_PASSWORD } });
  // Invalid input that carries the canary: the error must not quote it.
  await api("/api/connections", { body: { ...spec, name: "bad", port: 0 } });
});
afterAll(async () => b?.close());

describe("secrets exist in plaintext only in memory", () => {
  it.skipIf(!hasPostgres)("the canary appears in no response, header or log line", () => {
    expect(responses.length).toBeGreaterThan(10);
    for (const text of [...responses, ...b.logs]) {
      expect(text).not.toContain(CANARY_PASSWORD);
      expect(text).not.toContain(CANARY_USERNAME);
    }
  });

  it.skipIf(!hasPostgres)(
    "the canary appears nowhere in the store or the data directory: SQLite file, WAL, keyring (or the PostgreSQL tables)",
    async () => {
      const files = (await storeContents(b.dataDir)).map((f) => f.bytes);
      expect(files.length).toBeGreaterThanOrEqual(2);
      for (const f of files) {
        expect(f.includes(CANARY_PASSWORD)).toBe(false);
        expect(f.includes(CANARY_USERNAME)).toBe(false);
        // Nor base64 of it (a lazy "encryption").
        expect(f.includes(Buffer.from(CANARY_PASSWORD).toString("base64").slice(0, 16))).toBe(false);
      }
    },
  );

  it.skipIf(!hasPostgres)("stored credentials are versioned AES-GCM envelopes", async () => {
    const row = (await withRawStore(b.dataDir, (raw) =>
      raw.get<Record<string, string>>("select username_enc, password_enc from connections where id = ?", id),
    ))!;
    expect(row.username_enc).toMatch(/^berth:v1:/);
    expect(row.password_enc).toMatch(/^berth:v1:/);
  });
});

describe("the data plane keeps credentials out of its errors", () => {
  it.skipIf(!hasPostgres)("a pool that cannot sign in does not quote the user name", async () => {
    const { createClient } = await import("@connectrpc/connect");
    const { createGrpcTransport } = await import("@connectrpc/connect-node");
    const { BrokerService } = await import("../../src/gen/berth/v1/broker_service_pb.js");
    const broker = createClient(BrokerService, createGrpcTransport({ baseUrl: b.url }));
    const created = await b.api("/api/connections", {
      body: {
        name: "canary-pool",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: "test",
        username: CANARY_USERNAME,
        password: CANARY_PASSWORD,
      },
    });
    let message = "";
    try {
      for await (const _ of broker.execute(
        {
          target: { case: "connectionId", value: created.body.id },
          statement: { sql: "SELECT 1", params: [] },
        },
        { headers: { authorization: `Bearer ${b.adminToken}` } },
      )) {
        // no rows expected
      }
    } catch (err) {
      message = String((err as Error).message);
    }
    // The role does not exist on the server: PostgreSQL names it in its error.
    expect(message).toMatch(/does not exist|authentication/);
    expect(message).not.toContain(CANARY_USERNAME);
    expect(message).not.toContain(CANARY_PASSWORD);
    for (const line of b.logs) expect(line).not.toContain(CANARY_USERNAME);
  });
});

describe("tampered ciphertexts fail loudly, never as garbage", () => {
  function tamper(sql: string, ...params: unknown[]): Promise<number> {
    return withRawStore(b.dataDir, (raw) => raw.run(sql, ...params));
  }

  it.skipIf(!hasPostgres)(
    "one flipped byte in the stored password → credential_integrity_failed",
    async () => {
      const { password_enc } = (await withRawStore(b.dataDir, (raw) =>
        raw.get<{ password_enc: string }>("select password_enc from connections where id = ?", id),
      ))!;
      const [prefix, version, body] = password_enc.split(":");
      const bytes = Buffer.from(body!, "base64url");
      bytes[bytes.length - 5]! ^= 0x80;
      await tamper(
        "update connections set password_enc = ? where id = ?",
        `${prefix}:${version}:${bytes.toString("base64url")}`,
        id,
      );
      const r = await b.api(`/api/connections/${id}/test`, { body: {} });
      expect(r.status).toBe(500);
      expect(r.body).toMatchObject({
        error: "security_violation",
        details: { reason: "credential_integrity_failed", field: "password" },
      });
      const v = await b.api(`/api/connections/${id}/validate`, { body: {} });
      expect(v.status).toBe(422);
      expect(v.body.details).toMatchObject({ reason: "credential_integrity_failed", stage: "credentials" });
    },
  );

  it.skipIf(!hasPostgres)(
    "a ciphertext copied from another connection's row → credential_integrity_failed",
    async () => {
      await tamper(
        "update connections set password_enc = (select password_enc from connections where id = ?), username_enc = (select username_enc from connections where id = ?) where id = ?",
        otherId,
        otherId,
        id,
      );
      const r = await b.api(`/api/connections/${id}/test`, { body: {} });
      expect(r.status).toBe(500);
      expect(r.body.details.reason).toBe("credential_integrity_failed");
      // The original row still works: nothing but the tampered record is affected.
      expect((await b.api(`/api/connections/${otherId}/test`, { body: {} })).status).toBe(200);
    },
  );
});
