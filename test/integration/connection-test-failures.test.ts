import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSilentServer } from "../support/hostile-servers.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  freePort,
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const hasPostgresBinaries = postgresBinDir() !== undefined;
const hasMariadb = await serviceAvailable("mariadb");
const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let pg: ThrowawayPostgres | undefined;
const MARIA_USER = "berth_test_app";
const MARIA_PASSWORD = "maria-right-password";

beforeAll(async () => {
  b = await startTestBerth();
  if (hasPostgresBinaries) {
    pg = await startThrowawayPostgres();
    await pg.sql("CREATE ROLE app LOGIN PASSWORD 'pg-right-password'");
  }
  if (hasMariadb) {
    const root = await mysql.createConnection({
      host: LOCAL.mariadb.host,
      port: LOCAL.mariadb.port,
      user: "root",
    });
    await root.query(`CREATE USER IF NOT EXISTS '${MARIA_USER}'@'%' IDENTIFIED BY '${MARIA_PASSWORD}'`);
    await root.query(`ALTER USER '${MARIA_USER}'@'%' IDENTIFIED BY '${MARIA_PASSWORD}'`);
    await root.query(`GRANT ALL ON test.* TO '${MARIA_USER}'@'%'`);
    await root.end();
  }
}, 60_000);

afterAll(async () => {
  await b?.close();
  await pg?.destroy();
});

const base = { name: "under-test", database: "postgres" };

async function saveAndTest(spec: Record<string, unknown>, timeoutMs?: number) {
  const created = await b.api("/api/connections", {
    body: { ...base, ...spec, name: `t-${Math.random().toString(36).slice(2)}` },
  });
  expect(created.status, created.text).toBe(201);
  const started = performance.now();
  const r = await b.api(`/api/connections/${created.body.id}/test`, { body: timeoutMs ? { timeoutMs } : {} });
  return { ...r, elapsedMs: performance.now() - started, id: created.body.id as string };
}

describe("a test that fails names its stage, reason, engine code and remedy", () => {
  it.skipIf(!hasPostgresBinaries)(
    "wrong PostgreSQL password → 422 authentication_failed 28P01 at auth",
    async () => {
      const r = await saveAndTest({
        type: "postgresql",
        server: pg!.host,
        port: pg!.port,
        username: "app",
        password: "pg-wrong-password",
      });
      expect(r.status).toBe(422);
      expect(r.body).toMatchObject({
        error: "connection_operation_failed",
        details: {
          reason: "authentication_failed",
          database_type: "postgresql",
          error_code: "28P01",
          stage: "auth",
        },
      });
      expect(r.body.details.remedy).toMatch(/user name or password/);
      expect(r.text).not.toContain("pg-wrong-password");
      const stages = r.body.details.stages.map(
        (s: { stage: string; outcome: string }) => `${s.stage}:${s.outcome}`,
      );
      expect(stages).toEqual(["dns:passed", "tcp:passed", "tls:skipped", "auth:failed", "query:skipped"]);
      expect((await b.api(`/api/connections/${r.id}`)).body.status).toBe("failed");
    },
  );

  it.skipIf(!hasPostgresBinaries)(
    "the right password to the same password-checking server passes",
    async () => {
      const r = await saveAndTest({
        type: "postgresql",
        server: pg!.host,
        port: pg!.port,
        username: "app",
        password: "pg-right-password",
      });
      expect(r.status).toBe(200);
      expect(r.body.ok).toBe(true);
    },
  );

  it.skipIf(!hasPostgres)("a database that does not exist → database_not_found 3D000", async () => {
    const r = await saveAndTest({
      type: "postgresql",
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: "no_such_database_here",
      username: "postgres",
      password: "",
    });
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({
      reason: "database_not_found",
      error_code: "3D000",
      stage: "auth",
    });
  });

  it.skipIf(!hasMariadb)("wrong MySQL password → 422 authentication_failed 1045", async () => {
    const r = await saveAndTest({
      type: "mysql",
      server: LOCAL.mariadb.host,
      port: LOCAL.mariadb.port,
      database: "test",
      username: MARIA_USER,
      password: "maria-wrong-password",
    });
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({
      reason: "authentication_failed",
      error_code: "1045",
      database_type: "mysql",
      stage: "auth",
    });
    expect(r.text).not.toContain("maria-wrong-password");
  });

  it.skipIf(!hasMariadb)(
    "an unknown MySQL database → database_not_found 1049 (for a user who may see it)",
    async () => {
      const spec = {
        type: "mysql",
        server: LOCAL.mariadb.host,
        port: LOCAL.mariadb.port,
        database: "no_such_database_here",
      };
      const asRoot = await saveAndTest({ ...spec, username: "root", password: "" });
      expect(asRoot.status).toBe(422);
      expect(asRoot.body.details).toMatchObject({ reason: "database_not_found", error_code: "1049" });
      // MySQL answers 1044 to a user without rights rather than reveal whether the database exists.
      const asApp = await saveAndTest({ ...spec, username: MARIA_USER, password: MARIA_PASSWORD });
      expect(asApp.body.details).toMatchObject({ reason: "permission_denied", error_code: "1044" });
      expect(asApp.body.details.remedy).toMatch(/does not exist/);
    },
  );

  it("an unknown host → host_not_found at dns", async () => {
    const r = await saveAndTest({
      type: "postgresql",
      server: "db.does-not-exist.invalid",
      username: "u",
      password: "p",
    });
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({ reason: "host_not_found", stage: "dns" });
    expect((await b.api(`/api/connections/${r.id}`)).body.status).toBe("unavailable");
  });

  it("a closed port → connection_refused at tcp", async () => {
    const r = await saveAndTest({
      type: "mysql",
      server: "127.0.0.1",
      port: await freePort(),
      username: "u",
      password: "p",
    });
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({
      reason: "connection_refused",
      error_code: "ECONNREFUSED",
      stage: "tcp",
    });
  });

  it.each(["postgresql", "mysql"])(
    "a %s port that accepts and never answers → timeout within the bound",
    async (type) => {
      const silent = await startSilentServer();
      try {
        const r = await saveAndTest(
          { type, server: "127.0.0.1", port: silent.port, username: "u", password: "p" },
          800,
        );
        expect(r.status).toBe(422);
        expect(r.body.details.reason).toBe("timeout");
        // The bound is 800 ms; allow for the HTTP round trip and a loaded CI machine.
        expect(r.elapsedMs).toBeLessThan(800 + 700);
      } finally {
        await silent.close();
      }
    },
  );

  it("the default bound is 5 s: a silent server is abandoned in time", async () => {
    const silent = await startSilentServer();
    try {
      const r = await saveAndTest({
        type: "postgresql",
        server: "127.0.0.1",
        port: silent.port,
        username: "u",
        password: "p",
      });
      expect(r.body.details.reason).toBe("timeout");
      expect(r.elapsedMs).toBeGreaterThan(4_500);
      expect(r.elapsedMs).toBeLessThan(6_500);
    } finally {
      await silent.close();
    }
  });
});

describe("changing credentials", () => {
  it.skipIf(!hasPostgresBinaries)(
    "checks new credentials against the database first: a typo changes nothing",
    async () => {
      const base = {
        name: "rotating",
        type: "postgresql",
        server: pg!.host,
        port: pg!.port,
        database: "postgres",
        username: "app",
      };
      const created = await b.api("/api/connections", { body: { ...base, password: "pg-right-password" } });
      const id = created.body.id as string;
      const typo = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...base, password: "pg-typo-password" },
      });
      expect(typo.status).toBe(422);
      expect(typo.body.details).toMatchObject({
        reason: "authentication_failed",
        error_code: "28P01",
        stage: "auth",
      });
      expect((await b.api(`/api/connections/${id}`)).body.version).toBe(1);
      expect((await b.api(`/api/connections/${id}/test`, { body: {} })).status).toBe(200);

      await pg!.sql("ALTER ROLE app PASSWORD 'pg-rotated-password'");
      try {
        const rotated = await b.api(`/api/connections/${id}`, {
          method: "PUT",
          body: { ...base, password: "pg-rotated-password" },
        });
        expect(rotated.status).toBe(200);
        expect(rotated.body.version).toBe(2);
        expect((await b.api(`/api/connections/${id}/test`, { body: {} })).status).toBe(200);
      } finally {
        await pg!.sql("ALTER ROLE app PASSWORD 'pg-right-password'");
      }
    },
  );
});
