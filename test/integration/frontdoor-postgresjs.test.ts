import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directClient, type FrontDoorBerth, startFrontDoorBerth } from "../support/frontdoor.js";
import { runningWithMarker } from "../support/pg-activity.js";
import { serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * Issue 12, "Done when" 1: postgres.js (named prepared statements by default) through Berth's front
 * door against the real local PostgreSQL: 10 driver connections over a Berth pool of 2.
 */
const hasPostgres = await serviceAvailable("postgres");

let fd: FrontDoorBerth;
const opened: postgres.Sql[] = [];

function sqlOf(options: postgres.Options<Record<string, postgres.PostgresType>> = {}): postgres.Sql {
  const sql = postgres({
    host: "127.0.0.1",
    port: fd.port,
    user: "admin",
    password: ADMIN_PASSWORD,
    database: fd.database,
    max: 10,
    prepare: true,
    connect_timeout: 10,
    idle_timeout: 0,
    ...options,
  });
  opened.push(sql);
  return sql;
}

describe.skipIf(!hasPostgres)("postgres.js through the front door", () => {
  beforeAll(async () => {
    fd = await startFrontDoorBerth({ maxPoolSize: 2 });
    const c = await directClient();
    await c.query("DROP TABLE IF EXISTS fd_pgjs; CREATE TABLE fd_pgjs (id int PRIMARY KEY, label text)");
    await c.end();
  });

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.end({ timeout: 2 }).catch(() => {})));
    const c = await directClient();
    await c.query("DROP TABLE IF EXISTS fd_pgjs");
    await c.end();
    await fd?.close();
  });

  it("tagged queries with parameters (named prepared statements), 500 at once over 10 connections", async () => {
    const sql = sqlOf();
    const one = await sql`SELECT ${41}::int + 1 AS n, ${"hé"}::text AS t, ${[1, 2, 3]}::int[] AS a`;
    expect([...one]).toEqual([{ n: 42, t: "hé", a: [1, 2, 3] }]);
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        i % 2 === 0
          ? sql`SELECT ${i}::int * 2 AS v, pg_backend_pid() AS pid`
          : sql`SELECT ${String(i)}::text || '-odd' AS v, pg_backend_pid() AS pid`,
      ),
    );
    results.forEach((r, i) => {
      expect(r[0]!.v).toEqual(i % 2 === 0 ? i * 2 : `${i}-odd`);
    });
    // Ten driver connections, two backends.
    expect(new Set(results.map((r) => r[0]!.pid)).size).toBeLessThanOrEqual(2);
    // The backends hold Berth's statement names, not postgres.js's.
    const prepared = await sql`SELECT name, statement FROM pg_prepared_statements`;
    expect(prepared.length).toBeGreaterThan(0);
    for (const row of prepared) expect(row.name).toMatch(/^berth_\d+$/);
  });

  it("transactions with sql.begin: commit, rollback on a thrown error, pipelined queries inside", async () => {
    const sql = sqlOf();
    await sql.begin(async (tx) => {
      await tx`INSERT INTO fd_pgjs ${tx([
        { id: 1, label: "one" },
        { id: 2, label: "two" },
      ])}`;
      await tx`UPDATE fd_pgjs SET label = ${"TWO"} WHERE id = ${2}`;
    });
    const failed = await sql
      .begin(async (tx) => {
        await tx`INSERT INTO fd_pgjs VALUES (${3}, ${"three"})`;
        await tx`INSERT INTO fd_pgjs VALUES (${1}, ${"duplicate"})`;
      })
      .then(
        () => undefined,
        (err: { code?: string }) => err.code,
      );
    expect(failed).toBe("23505");
    // Pipelined inside one transaction: the callback returns the queries unawaited.
    const [a, b] = await sql.begin((tx) => [
      tx`INSERT INTO fd_pgjs VALUES (${4}, ${"four"}) RETURNING id`,
      tx`SELECT count(*)::int AS n FROM fd_pgjs`,
    ]);
    expect([...a!]).toEqual([{ id: 4 }]);
    expect([...b!]).toEqual([{ n: 3 }]);
    // Many transactions at once from 10 connections over 2 backends.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sql.begin(async (tx) => {
          const [row] = await tx`INSERT INTO fd_pgjs VALUES (${100 + i}, ${`tx ${i}`}) RETURNING label`;
          expect(row!.label).toBe(`tx ${i}`);
          const [seen] = await tx`SELECT label FROM fd_pgjs WHERE id = ${100 + i}`;
          expect(seen!.label).toBe(`tx ${i}`);
        }),
      ),
    );
    const rows = await sql`SELECT id, label FROM fd_pgjs WHERE id < 100 ORDER BY id`;
    expect([...rows]).toEqual([
      { id: 1, label: "one" },
      { id: 2, label: "TWO" },
      { id: 4, label: "four" },
    ]);
    expect((await sql`SELECT count(*)::int AS n FROM fd_pgjs WHERE id >= 100`)[0]!.n).toBe(40);
  });

  it("a pipelined burst of 300 queries on one connection", async () => {
    const sql = sqlOf({ max: 1 });
    const burst = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        i % 3 === 0 ? sql`SELECT ${i}::int AS i` : sql`SELECT ${i}::int AS i, ${`s${i}`}::text AS s`,
      ),
    );
    burst.forEach((r, i) => {
      expect(r[0]!.i).toBe(i);
    });
    // An error in the middle of a burst fails that query only.
    const mixed = await Promise.allSettled([
      sql`SELECT ${1}::int AS n`,
      sql`SELECT ${1}::int / 0 AS n`,
      sql`SELECT ${3}::int AS n`,
    ]);
    expect(
      mixed.map((r) => (r.status === "fulfilled" ? r.value[0]!.n : (r.reason as { code: string }).code)),
    ).toEqual([1, "22012", 3]);
  });

  it("sql.unsafe runs simple-protocol queries, several statements at once, and notices reach onnotice", async () => {
    const notices: string[] = [];
    const sql = sqlOf({ max: 2, onnotice: (n) => notices.push(String(n.message)) });
    const multi = await sql.unsafe("SELECT 1 AS a; SELECT 'b' AS b");
    expect(multi.map((r) => [...r])).toEqual([[{ a: 1 }], [{ b: "b" }]]);
    expect([...(await sql.unsafe("SELECT 2 AS two"))]).toEqual([{ two: 2 }]);
    await sql.unsafe("DO $$ BEGIN RAISE NOTICE 'notice through %', 'postgres.js'; END $$");
    await until("the notice", () => notices.includes("notice through postgres.js"), 5000);
    // unsafe with parameters goes through the extended protocol, unnamed.
    expect([...(await sql.unsafe("SELECT $1::int * 3 AS n", [5]))]).toEqual([{ n: 15 }]);
  });

  it("sql.listen receives what another connection notifies", async () => {
    const sql = sqlOf({ max: 2 });
    const got: string[] = [];
    await sql.listen("fd_pgjs_channel", (payload) => got.push(payload));
    await sql`SELECT pg_notify('fd_pgjs_channel', ${"from postgres.js"})`;
    await until("the notification", () => got.length > 0, 5000);
    expect(got).toEqual(["from postgres.js"]);
  });
  it("SET search_path / application_name survive across transactions while 4 driver connections share 2 backends", async () => {
    // One postgres.js connection each (max 1): a SET is that connection's session state.
    const sqls = Array.from({ length: 4 }, () => sqlOf({ max: 1 }));
    const expected = sqls.map((_, i) => ({ path: `fd_pgjs_schema_${i}, public`, app: `fd_pgjs_app_${i}` }));
    for (const [i, sql] of sqls.entries()) {
      await sql.unsafe(`SET search_path TO fd_pgjs_schema_${i}, public`);
      await sql.unsafe(`SET application_name = 'fd_pgjs_app_${i}'`);
    }
    const pidsOf = sqls.map(() => new Set<number>());
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        sqls.map(async (sql, i) => {
          const read = (q: postgres.Sql | postgres.TransactionSql) =>
            q`SELECT current_setting('search_path') AS path, current_setting('application_name') AS app, pg_backend_pid() AS pid`;
          // Every third round inside a transaction, the others single statements.
          const [row] = (round + i) % 3 === 0 ? await sql.begin((tx) => read(tx)) : await read(sql);
          pidsOf[i]!.add(row!.pid);
          expect({ path: row!.path, app: row!.app }).toEqual(expected[i]);
        }),
      );
    }
    // The connections really did share the backends (at most two; one while sql.listen above keeps
    // the other pinned): a backend served several connections, each with its own settings.
    const pids = pidsOf.flatMap((s) => [...s]);
    expect(new Set(pids).size).toBeLessThanOrEqual(2);
    const clientsPerBackend = [...new Set(pids)].map((pid) => pidsOf.filter((s) => s.has(pid)).length);
    expect(Math.max(...clientsPerBackend)).toBeGreaterThanOrEqual(2);
  });

  it("query.cancel() stops a running pg_sleep with 57014; the connection works afterwards", async () => {
    const sql = sqlOf({ max: 1 });
    const marker = `fd-pgjs-cancel-${process.pid}-${Date.now()}`;
    const started = Date.now();
    const query = sql.unsafe(`SELECT pg_sleep(30) /* ${marker} */`);
    const outcome = query.then(
      () => "completed",
      (err: { code?: string }) => err.code,
    );
    // Other suites sleep on this server too: this statement is told apart by its marker.
    await until("pg_sleep running", async () => (await runningWithMarker(marker)) === 1);
    query.cancel();
    expect(await outcome).toBe("57014");
    expect(Date.now() - started).toBeLessThan(10_000);
    await until("the sleep to be gone from the server", async () => (await runningWithMarker(marker)) === 0);
    expect([...(await sql`SELECT ${"usable"}::text AS s`)]).toEqual([{ s: "usable" }]);
  });
});
