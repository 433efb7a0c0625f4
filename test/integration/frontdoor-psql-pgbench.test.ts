import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directClient, type FrontDoorBerth, runTool, startFrontDoorBerth } from "../support/frontdoor.js";
import { serviceAvailable } from "../support/services.js";

/**
 * Issue 12, "Done when" 1: psql and pgbench (all three -M modes) through Berth's front door against
 * the real local PostgreSQL, over a pool of 2.
 */
const hasPostgres = await serviceAvailable("postgres");
const TABLE = "fd_tools_items";

let fd: FrontDoorBerth;
let dir: string;

const psqlArgs = (...more: string[]) => [
  ...["-h", "127.0.0.1", "-p", String(fd.port), "-U", "admin", "-d", fd.database],
  ...["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0"],
  ...more,
];

describe.skipIf(!hasPostgres)("psql and pgbench through the front door", () => {
  beforeAll(async () => {
    fd = await startFrontDoorBerth({ maxPoolSize: 2 });
    dir = await mkdtemp(join(tmpdir(), "berth-fd-tools-"));
    const c = await directClient();
    await c.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (id int PRIMARY KEY, label text)`);
    await c.query(`INSERT INTO ${TABLE} SELECT g, 'item ' || g FROM generate_series(1, 100) g`);
    await c.query("DROP TABLE IF EXISTS fd_tools_copy");
    await c.end();
  });

  afterAll(async () => {
    const c = await directClient();
    await c.query(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS fd_tools_copy`);
    await c.end();
    await fd?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("psql runs a simple query", async () => {
    const r = await runTool("psql", psqlArgs("-c", `SELECT count(*), sum(id) FROM ${TABLE}`));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("100|5050");
  });

  it("psql \\copy out and \\copy in", async () => {
    const out = join(dir, "out.csv");
    const copyOut = await runTool(
      "psql",
      psqlArgs("-c", `\\copy (SELECT id, label FROM ${TABLE} ORDER BY id) TO '${out}' CSV`),
    );
    expect(copyOut.stderr).toBe("");
    expect(copyOut.code).toBe(0);
    const csv = await readFile(out, "utf8");
    const lines = csv.trim().split("\n");
    expect(lines).toHaveLength(100);
    expect(lines[0]).toBe("1,item 1");
    expect(lines[99]).toBe("100,item 100");

    const input = join(dir, "in.csv");
    await writeFile(
      input,
      `${Array.from({ length: 5000 }, (_, i) => `${i + 1},"copied, ${i + 1}"`).join("\n")}\n`,
    );
    const copyIn = await runTool(
      "psql",
      psqlArgs(
        "-c",
        "CREATE TABLE fd_tools_copy (id int, label text)",
        "-c",
        `\\copy fd_tools_copy FROM '${input}' CSV`,
        "-c",
        "SELECT count(*), sum(id), max(label) FROM fd_tools_copy",
      ),
    );
    expect(copyIn.stderr).toBe("");
    expect(copyIn.code).toBe(0);
    expect(copyIn.stdout.trim().split("\n").at(-1)).toBe("5000|12502500|copied, 999");
  });

  it("psql: an error mid-transaction aborts it until ROLLBACK, then the session works", async () => {
    const script = [
      "BEGIN;",
      `SELECT count(*) FROM ${TABLE};`,
      "SELECT 1/0;",
      "SELECT 'after the error';",
      "ROLLBACK;",
      "SELECT 'works again';",
      "",
    ].join("\n");
    const r = await runTool("psql", psqlArgs("-f", "-"), { input: script });
    expect(r.stdout.trim().split("\n")).toEqual(["100", "works again"]);
    expect(r.stderr).toMatch(/division by zero/);
    expect(r.stderr).toMatch(
      /current transaction is aborted, commands ignored until end of transaction block/,
    );
    expect(r.code).toBe(0);
  });

  it("psql shows a NOTICE raised in a DO block", async () => {
    const r = await runTool(
      "psql",
      psqlArgs("-c", "DO $$ BEGIN RAISE NOTICE 'hello from %', 'the backend'; END $$", "-c", "SELECT 'done'"),
    );
    expect(r.stderr).toMatch(/NOTICE:\s+hello from the backend/);
    expect(r.stdout.trim()).toBe("done");
    expect(r.code).toBe(0);
  });

  for (const mode of ["simple", "extended", "prepared"] as const) {
    it(`pgbench -M ${mode}: 8 clients over a pool of 2, no failed transaction`, async () => {
      const script = join(dir, `select-${mode}.sql`);
      await writeFile(
        script,
        `\\set id random(1, 100)\nSELECT label FROM ${TABLE} WHERE id = :id;\nBEGIN;\nSELECT count(*) FROM ${TABLE} WHERE id <= :id;\nEND;\n`,
      );
      // One thread per client (-j 8): pgbench prepares with the synchronous PQprepare, which blocks
      // its whole thread while that client waits for a backend; with clients of one thread holding
      // both backends mid-transaction, that wait never ends (as through any transaction pooler).
      const r = await runTool(
        "pgbench",
        [
          ...["-h", "127.0.0.1", "-p", String(fd.port), "-U", "admin"],
          ...["-n", "-M", mode, "-f", script, "-c", "8", "-j", "8", "-T", "2"],
          fd.database,
        ],
        { timeoutMs: 30_000 },
      );
      expect(r.stderr).not.toMatch(/error|abort/i);
      expect(r.code).toBe(0);
      const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
      expect(Number(processed?.[1])).toBeGreaterThan(0);
      const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
      if (failed) expect(Number(failed[1])).toBe(0);
      expect(Number(/^tps = ([\d.]+)/m.exec(r.stdout)?.[1])).toBeGreaterThan(0);
    });
  }
});
