import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import { brokerClients, collect, plain, stmt } from "../support/broker-client.js";
import { makeCertificates } from "../support/certs.js";
import { type RecordingMysqlServer, startRecordingMysql } from "../support/recording-mysql-server.js";
import {
  type RecordingPostgresServer,
  startRecordingPostgres,
} from "../support/recording-postgres-server.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

/**
 * An editor must not be able to send a connection's stored credentials to a host of their own.
 * Real connections (a PostgreSQL role and a MariaDB user made for the suite, each with a password
 * canary) are registered by the admin; an editor then points them at recording fakes that ask for
 * the password and accept anything — over TLS, so nothing else in Berth would stop the password.
 * Every change of endpoint without the credentials is refused, and no path (saved test, validate,
 * unsaved test, a READ, ResetPool, health checks) ever sends the fakes anything of the stored
 * credentials: not the password, not the user name, not a MySQL scramble computed from them.
 */
const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");
const RUN = Math.random().toString(36).slice(2, 8);
const EDITOR_PASSWORD = "editor-login-pw-0001";

let b: TestBerth;
let editorToken = "";
let editorId = "";
let tls: { cert: string; key: string };
/** The CA that signed the fakes' certificate: trusting it would let them pass verify-ca. */
let fakeCa = "";

beforeAll(async () => {
  b = await startTestBerth({ BERTH_HEALTH_INTERVAL_MS: "500", BERTH_PG_PORT: "0" });
  const certs = makeCertificates();
  tls = { cert: readFileSync(certs.serverCert, "utf8"), key: readFileSync(certs.serverKey, "utf8") };
  fakeCa = certs.caPem;
  const user = await b.api("/api/users", { body: { username: `editor-${RUN}`, password: EDITOR_PASSWORD } });
  expect(user.status, user.text).toBe(201);
  editorId = user.body.id;
  const login = await b.api("/api/auth/login", {
    body: { username: `editor-${RUN}`, password: EDITOR_PASSWORD },
    token: null,
  });
  editorToken = login.body.token;
});

afterAll(async () => {
  await b?.close();
});

interface Target {
  engine: "postgresql" | "mysql";
  available: boolean;
  port: number;
  user: string;
  canary: string;
  makeUser(): Promise<void>;
  dropUser(): Promise<void>;
  startFake(): Promise<RecordingPostgresServer | RecordingMysqlServer>;
  /** The user names the fake was sent a sign-in for. */
  usersSeen(fake: RecordingPostgresServer | RecordingMysqlServer): string[];
}

async function onPostgres(sql: string) {
  const c = new pg.Client({ ...LOCAL.postgres });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function onMariadb(sqls: string[]) {
  const c = await mysql.createConnection({
    host: LOCAL.mariadb.host,
    port: LOCAL.mariadb.port,
    user: "root",
  });
  try {
    for (const sql of sqls) await c.query(sql);
  } finally {
    await c.end();
  }
}

const pgUser = `bound_pg_${RUN}`;
const myUser = `bound_my_${RUN}`;
const TARGETS: Target[] = [
  {
    engine: "postgresql",
    available: hasPostgres,
    port: LOCAL.postgres.port,
    user: pgUser,
    canary: `pg-canary-${RUN}-7f3a91`,
    makeUser: () => onPostgres(`CREATE ROLE ${pgUser} LOGIN PASSWORD 'pg-canary-${RUN}-7f3a91'`),
    dropUser: () => onPostgres(`DROP ROLE IF EXISTS ${pgUser}`),
    // The worst case: a cleartext password request, inside TLS, so cleartext refusal does not apply.
    startFake: () => startRecordingPostgres({ auth: "cleartext", accept: true, tls }),
    usersSeen: (f) => (f as RecordingPostgresServer).recording.startups.map((s) => s.user),
  },
  {
    engine: "mysql",
    available: hasMariadb,
    port: LOCAL.mariadb.port,
    user: myUser,
    canary: `my-canary-${RUN}-c0ffee`,
    makeUser: () =>
      onMariadb(
        ["%", "localhost", "127.0.0.1"].flatMap((host) => [
          `CREATE USER '${myUser}'@'${host}' IDENTIFIED BY 'my-canary-${RUN}-c0ffee'`,
          `GRANT SELECT ON test.* TO '${myUser}'@'${host}'`,
        ]),
      ),
    dropUser: () =>
      onMariadb(["%", "localhost", "127.0.0.1"].map((host) => `DROP USER IF EXISTS '${myUser}'@'${host}'`)),
    startFake: () => startRecordingMysql({ plugin: "mysql_native_password", accept: true, tls }),
    usersSeen: (f) => (f as RecordingMysqlServer).recording.handshakes.map((h) => h.user),
  },
];

for (const t of TARGETS) {
  describe.skipIf(!t.available)(`${t.engine}: credentials bound to the endpoint`, () => {
    let fake: RecordingPostgresServer | RecordingMysqlServer;
    let id = "";
    const base = () => ({
      name: `bound-${t.engine}-${RUN}`,
      type: t.engine,
      server: "127.0.0.1",
      port: t.port,
      database: "test",
      sslMode: "prefer",
    });
    const asEditor = (path: string, init: { method?: string; body?: unknown } = {}) =>
      b.api(path, { ...init, token: editorToken });
    /** Nothing of the stored credentials reached the fake, not even a connection. */
    const expectFakeUntouched = () => {
      expect(fake.sawText(t.canary)).toBe(false);
      expect(fake.sawText(t.user)).toBe(false);
      expect(t.usersSeen(fake)).toEqual([]);
      expect(fake.recording.connections).toBe(0);
    };

    beforeAll(async () => {
      await t.dropUser();
      await t.makeUser();
      fake = await t.startFake();
      const created = await b.api("/api/connections", {
        body: { ...base(), username: t.user, password: t.canary },
      });
      expect(created.status, created.text).toBe(201);
      id = created.body.id;
      const grant = await b.api(`/api/connections/${id}/access`, {
        body: { userId: editorId, accessLevel: "editor" },
      });
      expect(grant.status, grant.text).toBeLessThan(300);
    }, 30_000);

    afterAll(async () => {
      if (id) await b.api(`/api/connections/${id}`, { method: "DELETE" });
      await fake?.close();
      await t.dropUser();
    });

    it("refuses every change of where the credentials go when they are not given again", async () => {
      const attempts: [Record<string, unknown>, string[]][] = [
        [{ port: fake.port }, ["port"]],
        [{ server: "localhost", port: fake.port }, ["server", "port"]],
        [{ replicas: [{ server: "127.0.0.1", port: fake.port }] }, ["replicas[0]"]],
        [{ sslMode: "disable" }, ["sslMode"]],
        [{ allowCleartextPassword: true }, ["allowCleartextPassword"]],
        [{ tlsServerName: "localhost" }, ["tlsServerName"]],
        // A second CA (the one behind the fake's certificate) where only the system's CAs were trusted.
        [{ caCertificate: fakeCa }, ["caCertificate"]],
        // Half the credentials is not the credentials: the stored password would still go.
        [{ port: fake.port, username: t.user }, ["port"]],
        [{ port: fake.port, password: "guess" }, ["port"]],
      ];
      for (const [change, changed] of attempts) {
        if (t.engine === "mysql" && "tlsServerName" in change) continue;
        const r = await asEditor(`/api/connections/${id}`, { method: "PUT", body: { ...base(), ...change } });
        expect(r.status, r.text).toBe(400);
        expect(r.body.error).toBe("validation_failed");
        expect(r.body.details).toMatchObject({ reason: "credentials_required", changed });
        expect(r.body.message).toMatch(/give the username and password again/);
      }
      // Global admins too: nobody can read stored credentials, so nobody may move them.
      const admin = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...base(), port: fake.port },
      });
      expect(admin.status, admin.text).toBe(400);
      expect(admin.body.details.reason).toBe("credentials_required");
      // What does not move them needs nothing.
      const renamed = await asEditor(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...base(), description: "read by the suite" },
      });
      expect(renamed.status, renamed.text).toBe(200);
      expect(renamed.body).toMatchObject({ port: t.port, server: "127.0.0.1", replicas: [] });
      expectFakeUntouched();
    });

    it("no path sends the stored credentials to the fake: tests, validate, READ, front door, reset, health checks", async () => {
      expect((await asEditor(`/api/connections/${id}/test`, { body: {} })).status).toBe(200);
      expect((await asEditor(`/api/connections/${id}/validate`, { body: {} })).status).toBe(200);
      // An unsaved configuration has no stored credentials to borrow, whatever it looks like.
      const unsaved = await asEditor("/api/connections/test", { body: { ...base(), port: fake.port } });
      expect(unsaved.status, unsaved.text).toBe(400);
      expect(Object.keys(unsaved.body.details.fields)).toEqual(
        expect.arrayContaining(["username", "password"]),
      );
      const withId = await asEditor("/api/connections/test", { body: { ...base(), id, port: fake.port } });
      expect(withId.status, withId.text).toBe(400);

      const client = brokerClients(b.url, editorToken);
      const read = await collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1"), intent: Intent.READ },
          client.call,
        ),
      );
      expect(Number(plain(read.rows[0]!.values[0]))).toBe(1);
      // The PostgreSQL front door reaches the same pools: the real server, never the fake.
      if (t.engine === "postgresql") {
        const fd = new pg.Client({
          host: "127.0.0.1",
          port: b.berth.pgPort,
          user: `editor-${RUN}`,
          password: EDITOR_PASSWORD,
          database: id,
        });
        await fd.connect();
        expect((await fd.query("select 1 as one")).rows[0].one).toBe(1);
        await fd.end();
      }
      expect((await asEditor(`/api/connections/${id}/reset`, { body: {} })).status).toBe(200);
      // Two health check rounds after the reset.
      const checkedAt = async () =>
        (await asEditor(`/api/connections/${id}/status`)).body.hosts.map(
          (h: { lastCheckedAt: string | null }) => h.lastCheckedAt,
        );
      await expect.poll(async () => (await checkedAt())[0], { timeout: 5000 }).toBeTruthy();
      const first = (await checkedAt())[0];
      await expect.poll(async () => (await checkedAt())[0], { timeout: 5000 }).not.toBe(first);
      expectFakeUntouched();
    });

    it("accepts the change with credentials given again: then the caller's own go there, not the stored ones", async () => {
      const own = { username: `editor_own_${RUN}`, password: `editor-own-pw-${RUN}` };
      const moved = await asEditor(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...base(), port: fake.port, ...own },
      });
      expect(moved.status, moved.text).toBe(200);
      expect(moved.body.port).toBe(fake.port);
      expect((await asEditor(`/api/connections/${id}/test`, { body: {} })).status).toBe(200);
      expect(t.usersSeen(fake).length).toBeGreaterThan(0);
      expect(new Set(t.usersSeen(fake))).toEqual(new Set([own.username]));
      if (t.engine === "postgresql") expect(fake.sawText(own.password)).toBe(true);
      expect(fake.sawText(t.canary)).toBe(false);
      expect(fake.sawText(t.user)).toBe(false);
    });
  });
}

describe.skipIf(!hasPostgres)("a READ whose replica refuses Berth does not fall back to the primary", () => {
  let impostor: RecordingPostgresServer;
  const spec = (name: string, replicaPort: number) => ({
    name: `${name}-${RUN}`,
    type: "postgresql",
    server: "127.0.0.1",
    port: LOCAL.postgres.port,
    database: "test",
    username: "postgres",
    password: "",
    sslMode: "disable",
    replicas: [{ server: "127.0.0.1", port: replicaPort }],
  });
  const read = (id: string) => {
    const client = brokerClients(b.url, b.adminToken);
    return collect(
      client.broker.execute(
        {
          target: { case: "connectionId", value: id },
          statement: stmt("SELECT inet_server_port()"),
          intent: Intent.READ,
        },
        client.call,
      ),
    );
  };

  beforeAll(async () => {
    // Stands where a replica was: it does not know Berth's credentials (SCRAM, always refused).
    impostor = await startRecordingPostgres({ auth: "scram-sha-256" });
  });
  afterAll(async () => impostor?.close());

  it("fails the READ with the replica's error, marks the replica failed, logs and audits it", async () => {
    const created = await b.api("/api/connections", { body: spec("impostor", impostor.port) });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;
    for (let i = 0; i < 3; i++) {
      const err = await read(id).then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
      expect(err, `READ ${i} was served`).toBeDefined();
      expect(err!.code).toBe(Code.Unavailable);
      expect(err!.rawMessage).toMatch(/Reads are not sent to another host/);
    }
    await expect
      .poll(async () => {
        const hosts = (await b.api(`/api/connections/${id}/status`)).body.hosts;
        return hosts.find((h: { role: string }) => h.role === "replica");
      })
      .toMatchObject({ status: "failed", lastErrorReason: "authentication_failed", port: impostor.port });
    await expect.poll(() => b.logs.some((l) => l.includes("a read replica refused Berth"))).toBe(true);
    const events = (await b.api(`/api/audit?connectionId=${id}&pageSize=1000`)).body.events as {
      action: string;
      reason: string;
    }[];
    expect(events.find((e) => e.action === "replica.refused")?.reason).toMatch(/authentication_failed/);
    await b.api(`/api/connections/${id}`, { method: "DELETE" });
  });

  it("a replica whose certificate does not verify fails the READ too, and is sent nothing", async () => {
    // Poses as the replica with a certificate from a CA the connection does not trust.
    const tlsImpostor = await startRecordingPostgres({ auth: "cleartext", accept: true, tls });
    try {
      const created = await b.api("/api/connections", {
        body: { ...spec("tls-impostor", tlsImpostor.port), sslMode: "verify-full" },
      });
      expect(created.status, created.text).toBe(201);
      const err = await read(created.body.id).then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.Unavailable);
      expect(err?.rawMessage).toMatch(/Reads are not sent to another host/);
      await expect
        .poll(async () => {
          const hosts = (await b.api(`/api/connections/${created.body.id}/status`)).body.hosts;
          return hosts.find((h: { role: string }) => h.role === "replica")?.lastErrorReason;
        })
        .toBe("tls_unknown_ca");
      expect(tlsImpostor.recording.startups).toEqual([]);
      expect(tlsImpostor.recording.passwords).toEqual([]);
      await b.api(`/api/connections/${created.body.id}`, { method: "DELETE" });
    } finally {
      await tlsImpostor.close();
    }
  });

  it("a replica that cannot be reached still hands its READs to the primary", async () => {
    const closed = await startRecordingPostgres({ auth: "trust" });
    const port = closed.port;
    await closed.close();
    const created = await b.api("/api/connections", { body: spec("unreachable", port) });
    expect(created.status, created.text).toBe(201);
    const r = await read(created.body.id);
    expect(Number(plain(r.rows[0]!.values[0]))).toBe(LOCAL.postgres.port);
    await b.api(`/api/connections/${created.body.id}`, { method: "DELETE" });
  });
});
