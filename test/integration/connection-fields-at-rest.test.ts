import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SQLITE_FILE } from "../../src/store/store.js";
import { findValues } from "../support/store-bytes.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { onPostgresStore, storeContents, withRawStore } from "../support/test-store.js";

/**
 * Distinctive values in every field of a connection string, its SSH target included. The hosts
 * resolve nowhere (.example), which Create accepts: Create does not connect (nor reach the bastion),
 * the target policy is applied when Berth connects, and the test below fails at the bastion's DNS,
 * as it should, leaving a check result that names the host, the bastion and its user.
 */
const C = {
  host: "canary-host-7f3a.example",
  replica: "canary-replica-5c1d.example",
  database: "canary_db_9e2f41",
  username: "canary_user_b81c07",
  password: "CANARY-pw-0d6a9b3e",
  sni: "canary-sni-3a6e.example",
  description: "canary-description-8b2f5c",
  sqlHost: "canary-mssql-2e7d.example",
  instance: "CANARYINST4B7E",
  sqlDatabase: "canary_mssql_db_61f0",
  oracleHost: "canary-oracle-9a1c.example",
  sid: "CANARYSID73D",
  sshHost: "canary-bastion-4f8e.example",
  sshUser: "canary_ssh_user_a93d",
  sshPassword: "CANARY-ssh-pw-6c2b1f",
};

/** A CA certificate made for this test; a line of its PEM is a canary too (a PEM stored in clear would show it). */
function makeCa(): { pem: string; canaryLine: string } {
  const dir = mkdtempSync(join(tmpdir(), "berth-canary-ca-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=canary-ca-4d1e",
        "-days",
        "2",
      ]),
      { cwd: dir, stdio: "pipe" },
    );
    const pem = readFileSync(join(dir, "ca.crt"), "utf8");
    return { pem, canaryLine: pem.split("\n")[3]! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ca = makeCa();
const CANARIES = [...Object.values(C), ca.canaryLine];

const SPECS = [
  {
    name: "canary-pg",
    type: "postgresql",
    server: C.host,
    port: 47113,
    database: C.database,
    username: C.username,
    password: C.password,
    sslMode: "verify-full",
    caCertificate: ca.pem,
    tlsServerName: C.sni,
    replicas: [{ server: C.replica, port: 47114 }],
    description: C.description,
    ssh: { host: C.sshHost, user: C.sshUser, password: C.sshPassword },
  },
  {
    name: "canary-mssql",
    type: "sqlserver",
    server: C.sqlHost,
    instanceName: C.instance,
    database: C.sqlDatabase,
    username: C.username,
    password: C.password,
    sslMode: "require",
  },
  {
    name: "canary-oracle",
    type: "oracle",
    server: C.oracleHost,
    port: 1521,
    oracleSid: C.sid,
    username: C.username,
    password: C.password,
    sslMode: "disable",
  },
];

const SEALED_COLUMNS = {
  server: "",
  port: 0,
  database: "",
  ssl_mode: "",
  ca_certificate: "",
  client_certificate: "",
  tls_server_name: "",
  engine_options: "{}",
  max_pool_size: 0,
  min_pool_size: 0,
  acquire_timeout_ms: 0,
  idle_timeout_ms: 0,
  max_lifetime_ms: 0,
  replicas: "[]",
  description: "",
};

function rawRows(dataDir: string) {
  return withRawStore(dataDir, async (raw) => ({
    connections: await raw.all("SELECT * FROM connections ORDER BY name"),
    checks: await raw.all("SELECT * FROM connection_checks"),
  }));
}

let b: TestBerth;
let dataDir: string;
const ids: Record<string, string> = {};

beforeAll(async () => {
  b = await startTestBerth();
  dataDir = b.dataDir;
  for (const spec of SPECS) {
    const r = await b.api("/api/connections", { body: spec });
    expect(r.status, r.text).toBe(201);
    ids[spec.name] = r.body.id;
  }
  // A test and a validation: both fail at DNS and are recorded, naming the host they tried.
  const pg = ids["canary-pg"]!;
  const tested = await b.api(`/api/connections/${pg}/test`, { body: { timeoutMs: 3000 } });
  expect(tested.status, tested.text).toBe(422);
  await b.api(`/api/connections/${pg}/validate`, { body: { timeoutMs: 3000 } });
  // An update writes the settings again.
  const current = await b.api(`/api/connections/${pg}`);
  const updated = await b.api(`/api/connections/${pg}`, {
    method: "PUT",
    body: {
      ...SPECS[0],
      username: undefined,
      password: undefined,
      // Without its secrets the bastion keeps the stored ones (new secrets would be tested first).
      ssh: { host: C.sshHost, user: C.sshUser },
      version: current.body.version,
      maxPoolSize: 7,
    },
  });
  expect(updated.status, updated.text).toBe(200);
}, 30_000);
afterAll(async () => b?.close());

describe("connection settings at rest", () => {
  it("the API still returns every field", async () => {
    const pg = await b.api(`/api/connections/${ids["canary-pg"]}`);
    expect(pg.body).toMatchObject({
      server: C.host,
      port: 47113,
      database: C.database,
      sslMode: "verify-full",
      caCertificate: ca.pem,
      tlsServerName: C.sni,
      replicas: [{ server: C.replica, port: 47114 }],
      description: C.description,
      maxPoolSize: 7,
      ssh: { host: C.sshHost, port: 22, user: C.sshUser, hasPassword: true },
    });
    const list = await b.api("/api/connections");
    const byName = Object.fromEntries(list.body.connections.map((c: { name: string }) => [c.name, c]));
    expect(byName["canary-mssql"]).toMatchObject({
      server: C.sqlHost,
      instanceName: C.instance,
      database: C.sqlDatabase,
    });
    expect(byName["canary-oracle"]).toMatchObject({ server: C.oracleHost, oracleSid: C.sid });
    const status = await b.api(`/api/connections/${ids["canary-pg"]}/status`);
    expect(status.body.lastTest.target).toBe(`${C.host}:47113 via ssh ${C.sshUser}@${C.sshHost}:22`);
  });

  it("the store holds only placeholders in the old columns, and sealed envelopes", async () => {
    const { connections, checks } = await rawRows(dataDir);
    expect(connections).toHaveLength(3);
    for (const row of connections) {
      expect(row).toMatchObject(SEALED_COLUMNS);
      expect(row.settings_enc).toMatch(/^berth:v1:/);
      // Only id, name, type, owner, times and status are readable.
      expect(["postgresql", "sqlserver", "oracle"]).toContain(row.type);
    }
    // The bastion's secrets are sealed in a column of their own.
    const pgRow = connections.find((r) => r.name === "canary-pg");
    expect(pgRow?.ssh_secrets_enc).toMatch(/^berth:v1:/);
    expect(checks.length).toBeGreaterThanOrEqual(2);
    for (const c of checks) {
      expect(c.result_json).toBe("");
      expect(c.result_enc).toMatch(/^berth:v1:/);
    }
  });

  it("no canary appears in any file of the data directory, WAL included, in any encoding", async () => {
    const files = await storeContents(dataDir);
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining(
        onPostgresStore
          ? ["table connections", "table connection_checks"]
          : [SQLITE_FILE, `${SQLITE_FILE}-wal`],
      ),
    );
    expect(findValues(files, CANARIES)).toEqual([]);
    // The scan finds what is there: the names are in clear, by design.
    expect(findValues(files, ["canary-mssql"]).length).toBeGreaterThan(0);
  });

  it("after a restart on the same data directory, everything opens again and stays sealed", async () => {
    await b.close(true);
    expect(findValues(await storeContents(dataDir), CANARIES)).toEqual([]);
    b = await startTestBerth({}, { dataDir });
    const pg = await b.api(`/api/connections/${ids["canary-pg"]}`);
    expect(pg.status, pg.text).toBe(200);
    expect(pg.body).toMatchObject({
      server: C.host,
      tlsServerName: C.sni,
      description: C.description,
      ssh: { host: C.sshHost, user: C.sshUser },
    });
    expect(findValues(await storeContents(dataDir), CANARIES)).toEqual([]);
  });
});
