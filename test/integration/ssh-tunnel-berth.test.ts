import { Code, ConnectError } from "@connectrpc/connect";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/berth-cli.js";
import { brokerClients, collect, leaseTransactionRoundTrip, plain, stmt } from "../support/broker-client.js";
import { sendCancelRequest } from "../support/frontdoor.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { type Sshd, startSshd } from "../support/sshd.js";
import { findValues, storeFiles } from "../support/store-bytes.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * A running Berth reaching PostgreSQL and MariaDB through a real OpenSSH bastion: created over
 * REST with an encrypted ECDSA key, its host key confirmed from the first test, then queried,
 * streamed and used in transactions through the tunnel; a bastion killed under load and brought
 * back is reconnected without restarting Berth. The bastion's secrets never show anywhere.
 */
const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");
const RUN = Math.random().toString(36).slice(2, 8);
const TABLE = `ssh_tx_${RUN}`;
const SSH_PASSWORD_CANARY = `ssh-pw-canary-${RUN}`;

let sshd: Sshd;
let b: TestBerth;
let client: ReturnType<typeof brokerClients>;

async function onDatabase(engine: "postgres" | "mariadb", sql: string) {
  if (engine === "postgres") {
    const c = new pg.Client({ ...LOCAL.postgres });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  }
  const c = await mysql.createConnection({ ...LOCAL.mariadb });
  try {
    return (await c.query(sql))[0] as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  b = await startTestBerth({
    BERTH_CONNECT_TIMEOUT_MS: "5000",
    BERTH_HEALTH_INTERVAL_MS: "1000",
    BERTH_PG_PORT: "0",
  });
  client = brokerClients(b.url, b.adminToken);
  if (hasPostgres) await onDatabase("postgres", `CREATE TABLE ${TABLE} (v int)`);
  if (hasMariadb) await onDatabase("mariadb", `CREATE TABLE ${TABLE} (v int)`);
}, 60_000);

afterAll(async () => {
  await b?.close();
  await sshd?.close();
  if (hasPostgres) await onDatabase("postgres", `DROP TABLE IF EXISTS ${TABLE}`);
  if (hasMariadb) await onDatabase("mariadb", `DROP TABLE IF EXISTS ${TABLE}`);
});

const specOf = (engine: "postgres" | "mariadb", name: string) => ({
  name,
  type: engine === "postgres" ? "postgresql" : "mysql",
  // As the bastion sees it.
  server: "127.0.0.1",
  port: LOCAL[engine].port,
  database: LOCAL[engine].database,
  sslMode: "disable",
  maxPoolSize: 4,
});

const sshOf = (hostKey?: string) => ({
  host: sshd.host,
  port: sshd.port,
  user: sshd.user,
  ...(hostKey ? { hostKey } : {}),
});

const ids: Record<string, string> = {};

describe.each([
  { engine: "postgres" as const, available: hasPostgres, series: "SELECT generate_series(1, 50000) AS n" },
  { engine: "mariadb" as const, available: hasMariadb, series: "SELECT seq AS n FROM seq_1_to_50000" },
])("$engine through an SSH bastion", ({ engine, available, series }) => {
  it.skipIf(!available)(
    "is created with an encrypted key, its host key confirmed from the first test, then passes",
    async () => {
      const key = sshd.keys.ecdsaEncrypted;
      const created = await b.api("/api/connections", {
        body: {
          ...specOf(engine, `ssh-${engine}-${RUN}`),
          username: LOCAL[engine].user,
          password: "",
          ssh: { ...sshOf(), privateKey: key.privateKey, passphrase: key.passphrase },
        },
      });
      expect(created.status, created.text).toBe(201);
      const id = created.body.id as string;
      ids[engine] = id;
      expect(created.body.ssh).toEqual({
        host: sshd.host,
        port: sshd.port,
        user: "root",
        hostKey: null,
        hasPrivateKey: true,
        hasPassphrase: true,
        hasPassword: false,
      });

      const first = await b.api(`/api/connections/${id}/test`, { body: {} });
      expect(first.status, first.text).toBe(422);
      expect(first.body.details).toMatchObject({ stage: "ssh_host_key", reason: "ssh_host_key_unknown" });
      const stage = (first.body.details.stages as { stage: string; details?: Record<string, string> }[]).find(
        (s) => s.stage === "ssh_host_key",
      )!;
      expect(stage.details?.host_key).toBe(sshd.hostKey);

      // Pinning the key shown is an endpoint change: the stored secrets would be tried against it.
      const bare = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...specOf(engine, `ssh-${engine}-${RUN}`), ssh: sshOf(stage.details!.host_key) },
      });
      expect(bare.status, bare.text).toBe(400);
      expect(bare.body.details).toMatchObject({ reason: "credentials_required", changed: ["ssh.hostKey"] });
      const pinned = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: {
          ...specOf(engine, `ssh-${engine}-${RUN}`),
          username: LOCAL[engine].user,
          password: "",
          ssh: { ...sshOf(stage.details!.host_key), privateKey: key.privateKey, passphrase: key.passphrase },
        },
      });
      expect(pinned.status, pinned.text).toBe(200);
      expect(pinned.body.ssh.hostKey).toBe(sshd.hostKey);
      expect(pinned.body.ssh.hasPrivateKey).toBe(true);

      const second = await b.api(`/api/connections/${id}/test`, { body: {} });
      expect(second.status, second.text).toBe(200);
      expect(second.body.ok).toBe(true);

      // Validate holds the stored tunnel to today's rules and reaches the bastion, not the database.
      const validated = await b.api(`/api/connections/${id}/validate`, { body: {} });
      expect(validated.status, validated.text).toBe(200);
      const tcp = (validated.body.stages as { stage: string; details?: Record<string, string> }[]).find(
        (s) => s.stage === "tcp",
      );
      expect(tcp?.details?.address).toBe(`127.0.0.1:${sshd.port}`);
    },
  );

  it.skipIf(!available)(
    "runs statements, streams 50,000 rows and keeps transactions through the tunnel",
    async () => {
      const id = ids[engine]!;
      const one = await collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT 41 + 1 AS answer") },
          client.call,
        ),
      );
      expect(plain(one.rows[0]!.values[0])).toEqual(expect.anything());
      expect(String(plain(one.rows[0]!.values[0]))).toBe("42");

      const streamed = await collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt(series) },
          client.call,
        ),
      );
      expect(streamed.rows.length).toBe(50_000);
      expect(streamed.batches).toBeGreaterThan(1);

      await leaseTransactionRoundTrip(client, id, TABLE);
      const rows = await onDatabase(engine, `SELECT v FROM ${TABLE} ORDER BY v`);
      expect(rows.map((r) => Number(r.v))).toEqual([2]);
    },
  );

  it.skipIf(!available)(
    "changing the bastion without the credentials is refused (the endpoint rule)",
    async () => {
      const id = ids[engine]!;
      const moved = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: {
          ...specOf(engine, `ssh-${engine}-${RUN}`),
          ssh: { ...sshOf(sshd.hostKey), port: sshd.port + 1 },
        },
      });
      expect(moved.status, moved.text).toBe(400);
      expect(moved.body.details.reason).toBe("credentials_required");
      expect(moved.body.details.changed).toEqual(["ssh.port"]);
      const dropped = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: specOf(engine, `ssh-${engine}-${RUN}`),
      });
      expect(dropped.status, dropped.text).toBe(400);
      expect(dropped.body.details.changed).toEqual(["ssh"]);
    },
  );
});

describe.skipIf(!hasPostgres)("the PostgreSQL front door", () => {
  it("serves a tunnelled connection's clients: queries, a transaction, a cancel", async () => {
    const fd = new pg.Client({
      host: "127.0.0.1",
      port: b.berth.pgPort!,
      user: "admin",
      password: ADMIN_PASSWORD,
      database: `ssh-postgres-${RUN}`,
    });
    fd.on("error", () => {});
    await fd.connect();
    try {
      expect((await fd.query("SELECT $1::int + 1 AS n", [41])).rows).toEqual([{ n: 42 }]);
      await fd.query("BEGIN");
      await fd.query(`INSERT INTO ${TABLE} VALUES (3)`);
      await fd.query("COMMIT");
      // A cancel goes through the tunnel too (PostgreSQL's CancelRequest on a channel of its own).
      const slow = fd.query("SELECT pg_sleep(30)").catch((err: { code?: string }) => err.code);
      await until("the statement runs", async () => {
        const r = await onDatabase(
          "postgres",
          "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'",
        );
        return r.length > 0;
      });
      const started = performance.now();
      const { processID, secretKey } = fd as unknown as { processID: number; secretKey: number };
      await sendCancelRequest(b.berth.pgPort!, processID, secretKey);
      expect(await slow).toBe("57014");
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      await fd.end().catch(() => {});
    }
    const rows = await onDatabase("postgres", `SELECT v FROM ${TABLE} WHERE v = 3`);
    expect(rows.length).toBe(1);
  });
});

describe.skipIf(!hasPostgres)("the bastion is killed under load", () => {
  it("fails calls with UNAVAILABLE while it is down and serves again once it is back, Berth untouched", async () => {
    const id = ids.postgres!;
    expect(id).toBeDefined();
    const call = () =>
      collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT pg_sleep(0.01)") },
          client.call,
        ),
      );
    await call();
    const errors = new Map<string, number>();
    const successes: number[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        try {
          await call();
          successes.push(performance.now());
        } catch (err) {
          const name = Code[ConnectError.from(err).code];
          errors.set(name, (errors.get(name) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    try {
      await until("calls succeed through the tunnel", () => successes.length > 20);
      await sshd.kill();
      await until("calls fail while the bastion is down", () => errors.size > 0, 15_000);
      await sshd.start();
      const back = performance.now();
      await until("a call succeeds after the bastion is back", () => successes.some((t) => t > back), 15_000);
    } finally {
      running = false;
      await Promise.all(workers);
    }
    expect([...errors.keys()]).toEqual(["Unavailable"]);
    const pool = b.berth.dataPlane.pools.poolsOf(id)[0]!;
    expect(pool.stats()).toMatchObject({ inUse: 0, waiting: 0 });
  }, 60_000);
});

describe.skipIf(!hasPostgres)("the bastion's secrets", () => {
  it("never appear in logs, errors, REST answers, the audit trail or the store", async () => {
    const key = sshd.keys.ecdsaEncrypted;
    // A line from the middle of the key's body: the key in any form would contain it.
    const keyLines = key.privateKey.split("\n").filter((l) => l.length >= 40);
    const keyLine = keyLines[Math.floor(keyLines.length / 2)]!;
    const canaries = [keyLine, key.passphrase!, SSH_PASSWORD_CANARY];
    const answers: string[] = [];
    const byPassword = await b.api("/api/connections", {
      body: {
        ...specOf("postgres", `ssh-pw-${RUN}`),
        username: "postgres",
        password: "",
        ssh: { ...sshOf(sshd.hostKey), password: SSH_PASSWORD_CANARY },
      },
    });
    answers.push(byPassword.text);
    expect(byPassword.status, byPassword.text).toBe(201);
    // The bastion signs in by key only: the password is refused, at ssh_auth.
    const refused = await b.api(`/api/connections/${byPassword.body.id}/test`, { body: {} });
    answers.push(refused.text);
    expect(refused.body.details).toMatchObject({ stage: "ssh_auth", reason: "ssh_auth_failed" });
    // A wrong passphrase is a field error, without the key or the parser's words.
    const badPassphrase = await b.api("/api/connections", {
      body: {
        ...specOf("postgres", `ssh-bad-${RUN}`),
        username: "postgres",
        password: "",
        ssh: { ...sshOf(sshd.hostKey), privateKey: key.privateKey, passphrase: `${key.passphrase}-wrong` },
      },
    });
    answers.push(badPassphrase.text);
    expect(badPassphrase.status).toBe(400);
    expect(badPassphrase.body.details.fields["ssh.passphrase"]).toBe(
      "cannot be decrypted with the passphrase given",
    );
    // An unsaved test with the key, and every read.
    const unsaved = await b.api("/api/connections/test", {
      body: {
        ...specOf("postgres", `ssh-unsaved-${RUN}`),
        username: "postgres",
        password: "",
        ssh: { ...sshOf(sshd.hostKey), privateKey: key.privateKey, passphrase: key.passphrase },
      },
    });
    answers.push(unsaved.text);
    expect(unsaved.status, unsaved.text).toBe(200);
    answers.push((await b.api("/api/connections")).text);
    for (const id of Object.values(ids)) answers.push((await b.api(`/api/connections/${id}`)).text);
    answers.push((await b.api("/api/audit?pageSize=1000")).text);
    const everything = [...answers, ...b.logs].join("\n");
    for (const canary of canaries) expect(everything).not.toContain(canary);
    expect(everything).not.toContain("PRIVATE KEY");
    expect(findValues(await storeFiles(b.dataDir), canaries)).toEqual([]);
  });
});

describe.skipIf(!hasPostgres)("key rotation", () => {
  it("rewraps the bastion's secrets with the rest: after retiring the old key the tunnel still signs in", async () => {
    const id = ids.postgres!;
    const cli = (...args: string[]) => runCli(["keys", ...args], { url: b.url, token: b.adminToken });
    const status = await cli("status");
    const version = Number(/latest version\s+(\d+)/.exec(status.stdout)?.[1]);
    expect((await cli("rotate")).code).toBe(0);
    const rewrap = await cli("rewrap");
    expect(rewrap.code, rewrap.stdout + rewrap.stderr).toBe(0);
    expect(rewrap.stdout).toMatch(/failed 0/);
    const retired = await cli("retire", "--below", String(version + 1));
    expect(retired.code, retired.stdout + retired.stderr).toBe(0);
    // The test decrypts the stored secrets anew and signs in to the bastion with them.
    const tested = await b.api(`/api/connections/${id}/test`, { body: {} });
    expect(tested.status, tested.text).toBe(200);
  }, 60_000);
});

describe.skipIf(!hasPostgres)("Berth stopping", () => {
  it("closes its SSH connections with its pools", async () => {
    const own = await startTestBerth({ BERTH_CONNECT_TIMEOUT_MS: "5000" });
    let before = 0;
    try {
      const created = await own.api("/api/connections", {
        body: {
          ...specOf("postgres", `ssh-stop-${RUN}`),
          username: "postgres",
          password: "",
          ssh: { ...sshOf(sshd.hostKey), privateKey: sshd.keys.ed25519.privateKey },
        },
      });
      expect(created.status, created.text).toBe(201);
      before = sshd.connections();
      const rpc = brokerClients(own.url, own.adminToken);
      await collect(
        rpc.broker.execute(
          { target: { case: "connectionId", value: created.body.id }, statement: stmt("SELECT 1") },
          rpc.call,
        ),
      );
      expect(sshd.connections()).toBe(before + 1);
    } finally {
      await own.close();
    }
    await until(
      "the bastion serves only the other Berth's tunnels",
      () => sshd.connections() === before,
      10_000,
    );
  });
});

describe.skipIf(!hasPostgres)("bundles", () => {
  it("carry a tunnelled connection, its bastion and its secrets, to another Berth, where it signs in", async () => {
    const passphrase = `bundle passphrase ${RUN}`;
    const res = await fetch(`${b.url}/api/bundles/export`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${b.adminToken}` },
      body: JSON.stringify({ connectionIds: [ids.postgres], passphrase }),
    });
    expect(res.status).toBe(200);
    const bundle = Buffer.from(await res.arrayBuffer());
    // Sealed: none of the bastion's secrets in the file.
    const key = sshd.keys.ecdsaEncrypted;
    const keyLine = key.privateKey.split("\n").filter((l) => l.length >= 40)[1]!;
    expect(findValues([{ name: "bundle", bytes: bundle }], [keyLine, key.passphrase!])).toEqual([]);
    const target = await startTestBerth({ BERTH_CONNECT_TIMEOUT_MS: "5000" });
    try {
      const imported = await target.api("/api/bundles/import", {
        body: { bundle: bundle.toString("base64"), passphrase, dryRun: false },
      });
      expect(imported.status, imported.text).toBe(200);
      expect(imported.body).toMatchObject({ applied: true, ok: true });
      const id = imported.body.connections[0].id as string;
      const read = await target.api(`/api/connections/${id}`);
      expect(read.body.ssh).toMatchObject({
        hostKey: sshd.hostKey,
        hasPrivateKey: true,
        hasPassphrase: true,
      });
      const tested = await target.api(`/api/connections/${id}/test`, { body: {} });
      expect(tested.status, tested.text).toBe(200);
    } finally {
      await target.close();
    }
  }, 60_000);
});
