import { join } from "node:path";
import { create, toJsonString } from "@bufbuild/protobuf";
import SQLite from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settingsColumns } from "../../src/connections/row-mapping.js";
import { validateSpec } from "../../src/connections/validation.js";
import { CheckResultSchema } from "../../src/gen/berth/v1/types_pb.js";
import { SQLITE_FILE } from "../../src/store/store.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { findValues, storeFiles } from "../support/store-bytes.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

/** Values of the old, clear form: they must be gone from the files once Berth has sealed them. */
const OLD = {
  replica: "legacy-replica-6e0b.example",
  description: "legacy-description-c47a19",
  checkTarget: "legacy-check-target-2f8d.example",
  oracleHost: "legacy-oracle-5b3e.example",
  sid: "LEGACYSID9C2",
};

const SPECS = [
  {
    name: "legacy-pg",
    type: "postgresql",
    server: LOCAL.postgres.host,
    port: LOCAL.postgres.port,
    database: LOCAL.postgres.database,
    username: LOCAL.postgres.user,
    password: "",
    sslMode: "disable",
    replicas: [{ server: OLD.replica, port: 5432 }],
    description: OLD.description,
  },
  {
    name: "legacy-oracle",
    type: "oracle",
    server: OLD.oracleHost,
    port: 1521,
    oracleSid: OLD.sid,
    username: "scott",
    password: "tiger",
    sslMode: "disable",
  },
];

function withStore<T>(dataDir: string, f: (db: SQLite.Database) => T): T {
  const db = new SQLite(join(dataDir, SQLITE_FILE));
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/**
 * Puts the rows back in the form versions before migration 0009 wrote: settings in the clear
 * columns (exactly as that code derived them from a spec), settings_enc NULL; check results as
 * clear JSON, result_enc NULL.
 */
function toOldForm(dataDir: string, ids: Record<string, string>): void {
  withStore(dataDir, (db) => {
    for (const spec of SPECS) {
      const { name: _n, type: _t, ...clear } = settingsColumns(validateSpec(spec, { kind: "new" }).settings);
      const columns = Object.keys(clear);
      db.prepare(
        `UPDATE connections SET settings_enc = NULL, ${columns.map((c) => `${c} = @${c}`).join(", ")} WHERE id = @id`,
      ).run({ ...clear, id: ids[spec.name] });
    }
    const old = toJsonString(
      CheckResultSchema,
      create(CheckResultSchema, { ok: true, target: `${OLD.checkTarget}:5432` }),
    );
    db.prepare("UPDATE connection_checks SET result_enc = NULL, result_json = ?").run(old);
  });
}

const settingsEnc = (dataDir: string) =>
  withStore(dataDir, (db) => db.prepare("SELECT id, settings_enc FROM connections ORDER BY id").all()) as {
    id: string;
    settings_enc: string | null;
  }[];

describe.skipIf(!hasPostgres)("connections stored in clear before migration 0009", () => {
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
    const tested = await b.api(`/api/connections/${ids["legacy-pg"]}/test`, { body: {} });
    expect(tested.status, tested.text).toBe(200);
    await b.close(true);
    toOldForm(dataDir, ids);
  }, 30_000);
  afterAll(async () => b?.close());

  it("are sealed at start, their clear copies blanked and gone from every file, and still work", async () => {
    // The old form is what the scan finds before…
    expect(findValues(await storeFiles(dataDir), Object.values(OLD)).length).toBeGreaterThan(0);
    b = await startTestBerth({}, { dataDir });
    expect(b.logs.some((l) => l.includes("stored settings sealed"))).toBe(true);
    // …and nowhere after: not in the file, not in the write-ahead log.
    expect(findValues(await storeFiles(dataDir), Object.values(OLD))).toEqual([]);
    const rows = withStore(dataDir, (db) =>
      db.prepare("SELECT server, database, replicas, description, settings_enc FROM connections").all(),
    ) as Record<string, unknown>[];
    for (const r of rows) {
      expect(r).toMatchObject({ server: "", database: "", replicas: "[]", description: "" });
      expect(r.settings_enc).toMatch(/^berth:v1:/);
    }

    const pg = await b.api(`/api/connections/${ids["legacy-pg"]}`);
    expect(pg.body).toMatchObject({
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      replicas: [{ server: OLD.replica, port: 5432 }],
      description: OLD.description,
    });
    const oracle = await b.api(`/api/connections/${ids["legacy-oracle"]}`);
    expect(oracle.body).toMatchObject({ server: OLD.oracleHost, oracleSid: OLD.sid });
    // The check result kept in clear is sealed too, and reads back as it was.
    const status = await b.api(`/api/connections/${ids["legacy-pg"]}/status`);
    expect(status.body.lastTest.target).toBe(`${OLD.checkTarget}:5432`);
    // Still works: signs in to PostgreSQL with the settings it opened.
    const tested = await b.api(`/api/connections/${ids["legacy-pg"]}/test`, { body: {} });
    expect(tested.status, tested.text).toBe(200);
  }, 30_000);

  it("is idempotent: a second start seals nothing and rewrites nothing", async () => {
    const before = settingsEnc(dataDir);
    await b.close(true);
    b = await startTestBerth({}, { dataDir });
    expect(b.logs.some((l) => l.includes("stored settings sealed"))).toBe(false);
    expect(settingsEnc(dataDir)).toEqual(before);
    const listed = await b.api("/api/connections");
    expect(listed.body.connections.map((c: { server: string }) => c.server).sort()).toEqual(
      [LOCAL.postgres.host, OLD.oracleHost].sort(),
    );
  });

  it("a row put back in clear while Berth runs is refused, not read: its clear columns are not trusted", async () => {
    const id = ids["legacy-oracle"]!;
    withStore(dataDir, (db) =>
      db
        .prepare(
          "UPDATE connections SET settings_enc = NULL, server = 'attacker.example', port = 1 WHERE id = ?",
        )
        .run(id),
    );
    const got = await b.api(`/api/connections/${id}`);
    expect(got.status).toBe(500);
    expect(got.body).toMatchObject({ details: { reason: "credential_integrity_failed", field: "settings" } });
    expect(got.text).not.toContain("attacker.example");
    // The listing still answers, with the damaged one shown by name only.
    const listed = await b.api("/api/connections");
    expect(listed.status).toBe(200);
    const damaged = listed.body.connections.find((c: { id: string }) => c.id === id);
    expect(damaged).toMatchObject({ name: "legacy-oracle", server: "" });
  });
});
