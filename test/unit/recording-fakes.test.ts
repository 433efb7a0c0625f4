import { readFileSync } from "node:fs";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeCertificates } from "../support/certs.js";
import { type RecordingMysqlOptions, startRecordingMysql } from "../support/recording-mysql-server.js";
import {
  type RecordingPostgresOptions,
  startRecordingPostgres,
} from "../support/recording-postgres-server.js";

// The fakes stand in for an attacker's host in the security tests; here the real drivers show that
// they speak enough of each protocol, and record what they are sent.
const CANARY = "canary-pw-7f3a9c1e";
let tls: { cert: string; key: string };
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  const certs = makeCertificates();
  tls = { cert: readFileSync(certs.serverCert, "utf8"), key: readFileSync(certs.serverKey, "utf8") };
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

function pgClient(port: number, ssl: false | { rejectUnauthorized: false } = false) {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "app",
    database: "db1",
    password: CANARY,
    ssl,
  });
  client.on("error", () => {});
  return client;
}

describe("recording PostgreSQL fake, with pg", () => {
  it("asks for a cleartext password, records it, and serves a query when it accepts", async () => {
    const fake = await fakePostgres({ auth: "cleartext", accept: true });
    const client = pgClient(fake.port);
    await client.connect();
    const r = await client.query("select current_setting('server_version') as v");
    expect(r.rows).toEqual([{ v: "16.0 (recording fake)" }]);
    await client.end();
    expect(fake.recording.startups).toEqual([
      expect.objectContaining({ user: "app", database: "db1", tls: false }),
    ]);
    expect(fake.recording.passwords).toEqual([{ method: "cleartext", value: CANARY, tls: false }]);
    expect(fake.recording.queries).toEqual(["select current_setting('server_version') as v"]);
    expect(fake.sawText(CANARY)).toBe(true);
  });

  it("answers 28P01 by default, after recording the password", async () => {
    const fake = await fakePostgres({ auth: "cleartext" });
    await expect(pgClient(fake.port).connect()).rejects.toMatchObject({ code: "28P01" });
    expect(fake.recording.passwords.map((p) => p.value)).toEqual([CANARY]);
  });

  it("MD5: records a hash, never the password", async () => {
    const fake = await fakePostgres({ auth: "md5", accept: true });
    const client = pgClient(fake.port);
    await client.connect();
    await client.end();
    expect(fake.recording.passwords).toHaveLength(1);
    expect(fake.recording.passwords[0]!.value).toMatch(/^md5[0-9a-f]{32}$/);
    expect(fake.sawText(CANARY)).toBe(false);
  });

  it("SCRAM-SHA-256: records the client-first message and fails", async () => {
    const fake = await fakePostgres({ auth: "scram-sha-256" });
    await expect(pgClient(fake.port).connect()).rejects.toMatchObject({ code: "28P01" });
    expect(fake.recording.sasl).toEqual([
      { mechanism: "SCRAM-SHA-256", clientFirst: expect.stringMatching(/^n,,n=\*?,r=/) },
    ]);
    expect(fake.sawText(CANARY)).toBe(false);
  });

  it("answers an SSLRequest with N, or with S and TLS when it has a certificate", async () => {
    const plain = await fakePostgres({ auth: "cleartext", accept: true });
    await expect(pgClient(plain.port, { rejectUnauthorized: false }).connect()).rejects.toThrow(
      /does not support SSL/,
    );
    expect(plain.recording.sslRequests).toBe(1);

    const secured = await fakePostgres({ auth: "cleartext", accept: true, tls });
    const client = pgClient(secured.port, { rejectUnauthorized: false });
    await client.connect();
    await client.end();
    expect(secured.recording.startups[0]!.tls).toBe(true);
    expect(secured.recording.passwords).toEqual([{ method: "cleartext", value: CANARY, tls: true }]);
  });
});

function mysqlConnect(port: number, extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({
    host: "127.0.0.1",
    port,
    user: "app",
    password: CANARY,
    database: "db1",
    ...extra,
  });
}

describe("recording MySQL fake, with mysql2", () => {
  for (const plugin of ["mysql_native_password", "caching_sha2_password"] as const) {
    it(`greets with ${plugin}, records the handshake response, and serves a query`, async () => {
      const fake = await fakeMysql({ plugin, accept: true });
      const conn = await mysqlConnect(fake.port);
      const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v");
      expect(rows[0]?.v).toBe("8.0.36-recording-fake");
      await conn.ping();
      await conn.end();
      expect(fake.recording.handshakes).toEqual([
        expect.objectContaining({ user: "app", database: "db1", plugin, tls: false }),
      ]);
      expect(fake.recording.handshakes[0]!.authResponse).toHaveLength(
        plugin === "mysql_native_password" ? 20 : 32,
      );
      expect(fake.recording.queries).toContain("SELECT VERSION() AS v");
      expect(fake.sawText(CANARY)).toBe(false);
    });
  }

  it("answers ERR 1045 by default", async () => {
    const fake = await fakeMysql({ plugin: "mysql_native_password" });
    await expect(mysqlConnect(fake.port)).rejects.toMatchObject({ errno: 1045 });
    expect(fake.recording.handshakes).toHaveLength(1);
  });

  it("an AuthSwitchRequest to mysql_clear_password gets the password from a client that allows it", async () => {
    const fake = await fakeMysql({
      plugin: "mysql_native_password",
      switchTo: "mysql_clear_password",
      accept: true,
    });
    const conn = await mysqlConnect(fake.port, { enableCleartextPlugin: true });
    await conn.end();
    expect(fake.recording.authSwitchResponses).toEqual([
      { plugin: "mysql_clear_password", data: Buffer.from(`${CANARY}\0`), tls: false },
    ]);
    expect(fake.sawText(CANARY)).toBe(true);
  });

  it("offers CLIENT_SSL with a certificate and records the handshake inside TLS", async () => {
    const fake = await fakeMysql({ plugin: "mysql_native_password", accept: true, tls });
    const conn = await mysqlConnect(fake.port, { ssl: { rejectUnauthorized: false } });
    await conn.end();
    expect(fake.recording.sslRequests).toBe(1);
    expect(fake.recording.handshakes[0]).toMatchObject({ user: "app", tls: true });
  });
});
