import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Berth, startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { makeCertificates, type TestCertificates } from "../support/certs.js";
import { serviceAvailable } from "../support/services.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { ADMIN_PASSWORD } from "../support/test-berth.js";
import { createTestDatabase } from "../support/test-store.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";
import { until } from "../support/waits.js";

/**
 * The PostgreSQL store itself (the suites that run on either store are the "postgres" vitest
 * project): instances starting together, the migration lock, TLS from the URL, /readyz while the
 * store is away, and a start that fails without quoting the password.
 */
const hasPostgres = await serviceAvailable("postgres");
const hasCluster = hasPostgres && postgresBinDir() !== undefined;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function database() {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

const MASTER_KEY = randomBytes(32).toString("base64");

/** A Berth on `storeUrl` with its own data directory and captured log lines. */
async function berthOn(storeUrl: string, env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "berth-pgstore-"));
  const logs: string[] = [];
  const berth = await startBerth(
    loadConfig({
      BERTH_PORT: "0",
      BERTH_DATA_DIR: dataDir,
      BERTH_STORE_URL: storeUrl,
      BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
      BERTH_SHUTDOWN_GRACE_MS: "1000",
      BERTH_RATE_LIMITS: "off",
      // Shared mode keeps the keyring in the store, wrapped by this key (one for the whole file).
      BERTH_MASTER_KEY: MASTER_KEY,
      ...env,
    }),
    {
      logDestination: new Writable({
        write(c, _e, cb) {
          logs.push(String(c));
          cb();
        },
      }),
    },
  ).catch(async (err: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });
  cleanups.push(async () => {
    await berth.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { berth, logs };
}

async function login(berth: Berth): Promise<string> {
  const r = await fetch(`${berth.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { token: string }).token;
}

/** /readyz's status and how long it took to answer. */
async function readyz(berth: Berth) {
  const t0 = performance.now();
  const r = await fetch(`${berth.url}/readyz`);
  const body = (await r.json()) as { checks: Record<string, string> };
  return { status: r.status, store: body.checks.store, ms: performance.now() - t0 };
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

describe.skipIf(!hasPostgres)("Berth on a PostgreSQL store", () => {
  it("three instances started at the same moment on an empty store migrate once and share it", async () => {
    const db = await database();
    // One key for all three (keys in shared mode are another part of issue 13).
    const env = { BERTH_MASTER_KEY: randomBytes(32).toString("base64") };
    const [a, b, c] = await Promise.all([berthOn(db.url, env), berthOn(db.url, env), berthOn(db.url, env)]);
    const migrations = await query<{ name: string }>(
      db.url,
      "select name from kysely_migration order by name",
    );
    expect(migrations.map((m) => m.name)).toEqual([
      "0001_initial",
      "0002_connection_access",
      "0003_audit_events",
      "0004_service_tokens",
      "0005_engine_options",
      "0006_retention",
      "0007_audit_macs",
      "0008_scram_verifiers",
      "0009_connection_fields_at_rest",
      "0010_instances",
      "0011_role_memory",
      "0012_stored_keyring",
      "0013_ssh_tunnel_secrets",
    ]);
    // One admin, whoever created it; every instance signs it in.
    expect(await query(db.url, "select username from users")).toEqual([{ username: "admin" }]);
    const token = await login(a!.berth);
    await login(b!.berth);
    const created = await fetch(`${a!.berth.url}/api/connections`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        name: "shared",
        type: "postgresql",
        server: "db.example",
        database: "d",
        username: "u",
        password: "p",
      }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    // A session and a connection made on A are seen by C (same store, no cache to wait for).
    const seen = await fetch(`${c!.berth.url}/api/connections/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(seen.status).toBe(200);
    expect(a!.logs.join("")).toMatch(/"store":"postgresql 127\.0\.0\.1:5432\/berth_test_/);
  });

  it("waits for the migration lock another instance holds, then finds nothing to do", async () => {
    const db = await database();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    cleanups.push(() => holder.end());
    // The key Berth's migrations lock (postgres-store.ts).
    await holder.query("select pg_advisory_lock(7090478427880614249)");
    let opened = false;
    const opening = openPostgresStore(db.url).then((s) => {
      opened = true;
      return s;
    });
    await until("the store waits on the advisory lock", async () => {
      const rows = await query(
        db.url,
        "select 1 from pg_locks l join pg_stat_activity a using (pid) where l.locktype = 'advisory' and not l.granted and a.application_name = 'berth migrations'",
      );
      return rows.length === 1;
    });
    expect(opened).toBe(false);
    expect(await query(db.url, "select 1 from pg_tables where tablename = 'users'")).toEqual([]);
    await holder.query("select pg_advisory_unlock(7090478427880614249)");
    const store = await opening;
    await store.ping();
    expect((await store.db.selectFrom("users").selectAll().execute()).length).toBe(0);
    await store.close();
    // The lock's session is gone once the store is open.
    expect(
      await query(db.url, "select 1 from pg_stat_activity where application_name = 'berth migrations'"),
    ).toEqual([]);
  });

  it("answers /readyz 503 within a second while the store's network swallows packets, and recovers", async () => {
    const db = await database();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
    cleanups.push(() => proxy.close());
    const url = db.url.replace("127.0.0.1:5432", `127.0.0.1:${proxy.port}`);
    const { berth } = await berthOn(url);
    expect(await readyz(berth)).toMatchObject({ status: 200, store: "ok" });
    proxy.setMode("blackhole");
    for (let i = 0; i < 3; i++) {
      // The store's own probe gives up (and drops the silent session) before /readyz's 1 s bound.
      const r = await readyz(berth);
      expect(r).toMatchObject({ status: 503, store: "failing" });
      expect(r.ms).toBeLessThan(1_000);
    }
    const t0 = performance.now();
    await expect(berth.store.ping()).rejects.toThrow(/timeout|within/i);
    expect(performance.now() - t0).toBeLessThan(1_000);
    proxy.setMode("forward");
    await until("ready again", async () => (await readyz(berth)).status === 200);
  });

  it("bounds every statement, so that a call on a silent network fails rather than hangs", async () => {
    const db = await database();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
    cleanups.push(() => proxy.close());
    const url = db.url.replace("127.0.0.1:5432", `127.0.0.1:${proxy.port}`);
    const store = await openPostgresStore(url, { statementTimeoutMs: 300 });
    const users = () => store.db.selectFrom("users").select("id").execute();
    expect(await users()).toEqual([]);
    proxy.setMode("blackhole");
    const t0 = performance.now();
    await expect(users()).rejects.toThrow("the store did not answer within 300 ms");
    expect(performance.now() - t0).toBeLessThan(1_000);
    proxy.setMode("forward");
    // The silent session was thrown away: the next statement gets a working one.
    expect(await users()).toEqual([]);
    const t1 = performance.now();
    await store.close();
    expect(performance.now() - t1).toBeLessThan(2_000);
  });

  it("keeps serving when the server ends its idle sessions, and says so in the log", async () => {
    const db = await database();
    const { berth, logs } = await berthOn(db.url);
    const token = await login(berth);
    const ended = await query(
      db.url,
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'berth' and pid <> pg_backend_pid()",
    );
    expect(ended.length).toBeGreaterThan(0);
    // Every ended session is noticed (one logged so far left another in the pool, not yet known dead).
    await until(
      "the ended sessions are logged",
      () => logs.filter((l) => l.includes("idle store session")).length >= ended.length,
    );
    const me = await fetch(`${berth.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
  });
});

describe.skipIf(!hasCluster)(
  "a PostgreSQL store of its own cluster (TLS, restarts, a wrong password)",
  () => {
    let cluster: ThrowawayPostgres;
    let certs: TestCertificates;
    let otherCa: string;
    const PASSWORD = "store-superuser-pw-canary";

    beforeAll(async () => {
      certs = makeCertificates();
      cleanups.push(() => rmSync(certs.dir, { recursive: true, force: true }));
      // A CA that did not sign the server's certificate.
      const other = makeCertificates();
      otherCa = join(certs.dir, "other-ca.crt");
      writeFileSync(otherCa, other.caPem);
      rmSync(other.dir, { recursive: true, force: true });
      cluster = await startThrowawayPostgres({
        password: PASSWORD,
        conf: ["ssl=on", `ssl_cert_file='${certs.serverCert}'`, `ssl_key_file='${certs.serverKey}'`],
      });
      cleanups.push(() => cluster.destroy());
    }, 60_000);

    const urlOf = (params: string, host = "localhost", password = PASSWORD) =>
      `postgres://postgres:${password}@${host}:${cluster.port}/postgres${params}`;
    const caFile = () => join(certs.dir, "ca.crt");

    /** Opens the store on `url`: whether its sessions use TLS, or the error it failed with. */
    async function tryStore(url: string): Promise<{ ssl: boolean } | { error: string }> {
      try {
        const store = await openPostgresStore(url);
        try {
          const { rows } = await sql<{
            ssl: boolean;
          }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(store.db);
          return { ssl: rows[0]!.ssl };
        } finally {
          await store.close();
        }
      } catch (err) {
        return { error: (err as Error).message };
      }
    }

    it("honours sslmode and sslrootcert from the URL", async () => {
      // verify-full with the CA that signed the server's certificate: TLS, verified.
      expect(await tryStore(urlOf(`?sslmode=verify-full&sslrootcert=${caFile()}`))).toEqual({ ssl: true });
      // pg verifies for require too (it reads require as verify-full): the CA must be given…
      expect(await tryStore(urlOf(`?sslmode=require&sslrootcert=${caFile()}`))).toEqual({ ssl: true });
      expect(await tryStore(urlOf("?sslmode=require"))).toEqual({
        error: expect.stringMatching(/could not be opened: .*certificate/),
      });
      // …and must be the right one; the name must match the certificate (localhost, not an address).
      expect(await tryStore(urlOf(`?sslmode=verify-full&sslrootcert=${otherCa}`))).toEqual({
        error: expect.stringMatching(/certificate/),
      });
      expect(await tryStore(urlOf(`?sslmode=verify-full&sslrootcert=${caFile()}`, "127.0.0.1"))).toEqual({
        error: expect.stringMatching(/IP: 127\.0\.0\.1 is not in the cert's list|altnames/),
      });
      // libpq's own reading of require (encrypted, not verified), when asked for; and no TLS at all.
      expect(await tryStore(urlOf("?uselibpqcompat=true&sslmode=require"))).toEqual({ ssl: true });
      expect(await tryStore(urlOf("?sslmode=disable"))).toEqual({ ssl: false });
    });

    it("says not ready while the cluster is stopped, quickly, and ready once it is back", async () => {
      const { berth } = await berthOn(urlOf(`?sslmode=verify-full&sslrootcert=${caFile()}`));
      expect(await readyz(berth)).toMatchObject({ status: 200, store: "ok" });
      await cluster.stop();
      try {
        const r = await readyz(berth);
        expect(r).toMatchObject({ status: 503, store: "failing" });
        expect(r.ms).toBeLessThan(1_000);
      } finally {
        await cluster.start();
      }
      await until("ready again", async () => (await readyz(berth)).status === 200);
    });

    it("fails to start on a wrong password, naming the store but not the password", async () => {
      const err = await berthOn(urlOf("?sslmode=disable", "localhost", "wrong-canary-pw")).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(
        new RegExp(
          `The store at localhost:${cluster.port}/postgres could not be opened: .*password authentication failed`,
        ),
      );
      expect(err.message).not.toContain("wrong-canary-pw");
    });
  },
);
