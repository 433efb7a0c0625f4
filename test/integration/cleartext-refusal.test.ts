import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { makeCertificates } from "../support/certs.js";
import { type RecordingMysqlOptions, startRecordingMysql } from "../support/recording-mysql-server.js";
import {
  type RecordingPostgresOptions,
  startRecordingPostgres,
} from "../support/recording-postgres-server.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

// A server that asks for the password in clear text on a connection without TLS gets nothing from
// Berth unless the connection allows it: through the staged test, a pool session and a replica.
// The fakes record every byte they are sent; the canary is the connection's password.
const CANARY = "cleartext-canary-5b1d0e77";
let b: TestBerth;
let client: ReturnType<typeof brokerClients>;
let tls: { cert: string; key: string };
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  b = await startTestBerth();
  client = brokerClients(b.url, b.adminToken);
  const certs = makeCertificates();
  tls = { cert: readFileSync(certs.serverCert, "utf8"), key: readFileSync(certs.serverKey, "utf8") };
});

afterAll(async () => {
  await b?.close();
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function fakePostgres(options: RecordingPostgresOptions) {
  const fake = await startRecordingPostgres(options);
  closers.push(fake.close);
  return fake;
}

async function fakeMysql(options: RecordingMysqlOptions) {
  const fake = await startRecordingMysql(options);
  closers.push(fake.close);
  return fake;
}

async function create(spec: Record<string, unknown>): Promise<string> {
  const created = await b.api("/api/connections", {
    body: {
      name: `c-${Math.random().toString(36).slice(2)}`,
      server: "127.0.0.1",
      database: "db1",
      username: "app",
      password: CANARY,
      ...spec,
    },
  });
  expect(created.status, created.text).toBe(201);
  closers.push(async () => void (await b.api(`/api/connections/${created.body.id}`, { method: "DELETE" })));
  return created.body.id;
}

async function stagedTest(spec: Record<string, unknown>) {
  const id = await create(spec);
  return b.api(`/api/connections/${id}/test`, { body: {} });
}

function expectRefused(r: { status: number; body: { details: Record<string, unknown> }; text: string }) {
  expect(r.status, r.text).toBe(422);
  expect(r.body.details).toMatchObject({ reason: "cleartext_password_refused", stage: "auth" });
  expect(r.body.details.remedy).toMatch(/TLS.*allowCleartextPassword/);
  expect(r.text).not.toContain(CANARY);
}

describe("PostgreSQL: AuthenticationCleartextPassword", () => {
  it("without TLS, the staged test refuses it at auth and the server never gets the password", async () => {
    const fake = await fakePostgres({ auth: "cleartext", accept: true });
    // sslMode prefer: the fake answers the SSLRequest with N, so Berth goes on in plain text.
    expectRefused(await stagedTest({ type: "postgresql", port: fake.port, sslMode: "prefer" }));
    expect(fake.recording.startups.length).toBeGreaterThan(0);
    expect(fake.recording.passwords).toEqual([]);
    expect(fake.sawText(CANARY)).toBe(false);
  });

  it("a pool session and a replica are refused the same way", async () => {
    const primary = await fakePostgres({ auth: "cleartext", accept: true });
    const replica = await fakePostgres({ auth: "cleartext", accept: true });
    const id = await create({
      type: "postgresql",
      port: primary.port,
      sslMode: "disable",
      replicas: [{ server: "127.0.0.1", port: replica.port }],
    });
    for (const intent of [Intent.WRITE, Intent.READ]) {
      const err = await collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1"), intent },
          client.call,
        ),
      ).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.FailedPrecondition);
      expect(err?.rawMessage).toMatch(/clear text/);
    }
    expect(primary.recording.startups.length).toBeGreaterThan(0);
    expect(replica.recording.startups.length).toBeGreaterThan(0);
    for (const fake of [primary, replica]) {
      expect(fake.recording.passwords).toEqual([]);
      expect(fake.sawText(CANARY)).toBe(false);
    }
  });

  it("with allowCleartextPassword the password is sent, and the connection says so", async () => {
    const fake = await fakePostgres({ auth: "cleartext", accept: true });
    const id = await create({
      type: "postgresql",
      port: fake.port,
      sslMode: "disable",
      allowCleartextPassword: true,
    });
    const shown = await b.api(`/api/connections/${id}`);
    expect(shown.body.allowCleartextPassword).toBe(true);
    const r = await b.api(`/api/connections/${id}/test`, { body: {} });
    expect(r.status, r.text).toBe(200);
    expect(fake.recording.passwords).toEqual([{ method: "cleartext", value: CANARY, tls: false }]);
  });

  it("over TLS the password is sent (inside TLS) without the setting", async () => {
    const fake = await fakePostgres({ auth: "cleartext", accept: true, tls });
    const r = await stagedTest({ type: "postgresql", port: fake.port, sslMode: "require" });
    expect(r.status, r.text).toBe(200);
    expect(fake.recording.passwords).toEqual([{ method: "cleartext", value: CANARY, tls: true }]);
  });

  it("MD5 and SCRAM-SHA-256 go on as before and never carry the password", async () => {
    const md5 = await fakePostgres({ auth: "md5", accept: true });
    const ok = await stagedTest({ type: "postgresql", port: md5.port, sslMode: "disable" });
    expect(ok.status, ok.text).toBe(200);
    expect(md5.recording.passwords[0]?.value).toMatch(/^md5[0-9a-f]{32}$/);
    expect(md5.sawText(CANARY)).toBe(false);

    const scram = await fakePostgres({ auth: "scram-sha-256" });
    const failed = await stagedTest({ type: "postgresql", port: scram.port, sslMode: "disable" });
    expect(failed.status, failed.text).toBe(422);
    expect(failed.body.details).toMatchObject({ reason: "authentication_failed", stage: "auth" });
    expect(scram.recording.sasl).toEqual([expect.objectContaining({ mechanism: "SCRAM-SHA-256" })]);
    expect(scram.sawText(CANARY)).toBe(false);
  });

  it("the setting is refused on engines that have no such thing", async () => {
    const r = await b.api("/api/connections", {
      body: {
        name: "sqlserver-cleartext",
        type: "sqlserver",
        server: "127.0.0.1",
        username: "u",
        password: "p",
        sslMode: "require",
        allowCleartextPassword: true,
      },
    });
    expect(r.status, r.text).toBe(400);
    expect(r.body.details.fields).toHaveProperty("allowCleartextPassword");
  });
});

describe("MySQL: an AuthSwitchRequest to mysql_clear_password", () => {
  it("without TLS, the staged test refuses it at auth and the server never gets the password", async () => {
    const fake = await fakeMysql({
      plugin: "mysql_native_password",
      switchTo: "mysql_clear_password",
      accept: true,
    });
    expectRefused(await stagedTest({ type: "mysql", port: fake.port, sslMode: "prefer" }));
    expect(fake.recording.handshakes.length).toBeGreaterThan(0);
    expect(fake.recording.authSwitchResponses).toEqual([]);
    expect(fake.sawText(CANARY)).toBe(false);
  });

  it("caching_sha2_password's full authentication without TLS is refused too (the server would choose the RSA key)", async () => {
    const fake = await fakeMysql({
      plugin: "caching_sha2_password",
      switchTo: "caching_sha2_password",
      fullAuthentication: true,
      accept: true,
    });
    expectRefused(await stagedTest({ type: "mysql", port: fake.port, sslMode: "prefer" }));
    // The scramble went (fast authentication is fine); nothing after the request for full authentication.
    expect(fake.recording.authSwitchResponses).toHaveLength(1);
    expect(fake.sawText(CANARY)).toBe(false);
  });

  it("a pool session is refused the same way", async () => {
    const fake = await fakeMysql({
      plugin: "caching_sha2_password",
      switchTo: "mysql_clear_password",
      accept: true,
    });
    const id = await create({ type: "mysql", port: fake.port, sslMode: "disable" });
    const err = await collect(
      client.broker.execute(
        { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") },
        client.call,
      ),
    ).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(err?.rawMessage).toMatch(/mysql_clear_password/);
    expect(fake.recording.handshakes.length).toBeGreaterThan(0);
    expect(fake.sawText(CANARY)).toBe(false);
  });

  it("with allowCleartextPassword the password is sent", async () => {
    const fake = await fakeMysql({
      plugin: "mysql_native_password",
      switchTo: "mysql_clear_password",
      accept: true,
    });
    const r = await stagedTest({
      type: "mysql",
      port: fake.port,
      sslMode: "disable",
      allowCleartextPassword: true,
    });
    expect(r.status, r.text).toBe(200);
    expect(fake.recording.authSwitchResponses).toEqual([
      { plugin: "mysql_clear_password", data: Buffer.from(`${CANARY}\0`), tls: false },
    ]);
  });

  it("over TLS the password is sent (inside TLS) without the setting", async () => {
    const fake = await fakeMysql({
      plugin: "mysql_native_password",
      switchTo: "mysql_clear_password",
      accept: true,
      tls,
    });
    const r = await stagedTest({ type: "mysql", port: fake.port, sslMode: "require" });
    expect(r.status, r.text).toBe(200);
    expect(fake.recording.authSwitchResponses).toEqual([
      { plugin: "mysql_clear_password", data: Buffer.from(`${CANARY}\0`), tls: true },
    ]);
  });

  for (const plugin of ["mysql_native_password", "caching_sha2_password"] as const) {
    it(`${plugin} goes on as before and never carries the password`, async () => {
      const fake = await fakeMysql({ plugin, accept: true });
      const r = await stagedTest({ type: "mysql", port: fake.port, sslMode: "disable" });
      expect(r.status, r.text).toBe(200);
      // Berth guards caching_sha2_password's full authentication, so mysql2 opens with a native
      // scramble and lets a caching_sha2 server switch to it (one more round trip, no password sent).
      expect(fake.recording.handshakes[0]).toMatchObject({ user: "app", plugin: "mysql_native_password" });
      expect(fake.sawText(CANARY)).toBe(false);
    });
  }

  it("caching_sha2_password's fast authentication after a switch still passes", async () => {
    const fake = await fakeMysql({
      plugin: "caching_sha2_password",
      switchTo: "caching_sha2_password",
      accept: true,
    });
    const r = await stagedTest({ type: "mysql", port: fake.port, sslMode: "disable" });
    expect(r.status, r.text).toBe(200);
    expect(fake.recording.authSwitchResponses).toHaveLength(1);
    expect(fake.recording.authSwitchResponses[0]!.data).toHaveLength(32);
    expect(fake.sawText(CANARY)).toBe(false);
  });
});
