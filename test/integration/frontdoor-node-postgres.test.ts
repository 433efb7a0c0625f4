import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  directClient,
  type FrontDoorBerth,
  metricValue,
  sendCancelRequest,
  startFrontDoorBerth,
} from "../support/frontdoor.js";
import { runningWithMarker } from "../support/pg-activity.js";
import { serviceAvailable } from "../support/services.js";
import { until } from "../support/waits.js";

/**
 * Issue 12, "Done when" 1: node-postgres's ordinary workloads through Berth's front door against the
 * real local PostgreSQL, every client sharing a pool of 2 backends (transaction pooling).
 */
const hasPostgres = await serviceAvailable("postgres");

let fd: FrontDoorBerth;

/** The SQLSTATE of a rejected query. */
async function sqlstate(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe.skipIf(!hasPostgres)("node-postgres through the front door", () => {
  beforeAll(async () => {
    fd = await startFrontDoorBerth({ maxPoolSize: 2 });
    const c = await directClient();
    await c.query("DROP TABLE IF EXISTS fd_pg_copy; CREATE TABLE fd_pg_copy (id int, label text)");
    await c.end();
  });

  afterAll(async () => {
    const c = await directClient();
    await c.query("DROP TABLE IF EXISTS fd_pg_copy");
    await c.end();
    await fd?.close();
  });

  it("runs simple and extended queries", async () => {
    const c = await fd.client();
    // Simple protocol, two statements in one Query: pg answers the last result set.
    const multi = (await c.query("SELECT 1 AS a; SELECT 'two' AS b")) as unknown as pg.QueryResult[];
    expect(multi.map((r) => r.rows[0])).toEqual([{ a: 1 }, { b: "two" }]);
    // Extended protocol (unnamed statement), with parameters of several types.
    const ext = await c.query("SELECT $1::int + 1 AS n, $2::text || '!' AS t, $3::jsonb AS j", [
      41,
      "hi",
      { k: [1] },
    ]);
    expect(ext.rows).toEqual([{ n: 42, t: "hi!", j: { k: [1] } }]);
    // Rows of a set, and an empty result.
    const set = await c.query("SELECT g FROM generate_series(1, 1000) g");
    expect(set.rowCount).toBe(1000);
    expect((await c.query("SELECT 1 WHERE false")).rows).toEqual([]);
    // A Bind far larger than a socket read: the front door joins it whole.
    const big = "y".repeat(8 * 1024 * 1024);
    expect(
      (
        await c.query("SELECT length($1::text) AS n, md5($1::text) = md5(repeat('y', 8388608)) AS same", [
          big,
        ])
      ).rows,
    ).toEqual([{ n: big.length, same: true }]);
    await c.end();
  });

  it("named prepared statements reused across transactions by 20 clients over a pool of 2; backends hold Berth's names", async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => fd.client()));
    // Half the clients give "q1" another text: a client's statement names are its own.
    const factor = (i: number) => (i % 2 === 0 ? 2 : 3);
    const rounds = 8;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let r = 0; r < rounds; r++) {
          const inTx = r % 2 === 1;
          if (inTx) await c.query("BEGIN");
          const q1 = await c.query({
            name: "q1",
            text: `SELECT $1::int * ${factor(i)} AS v`,
            values: [r * 100 + i],
          });
          expect(q1.rows).toEqual([{ v: (r * 100 + i) * factor(i) }]);
          const q2 = await c.query({
            name: "q2",
            text: "SELECT $1::text || '/' || $2::text AS s",
            values: [`c${i}`, r],
          });
          expect(q2.rows).toEqual([{ s: `c${i}/${r}` }]);
          if (inTx) await c.query("COMMIT");
        }
      }),
    );
    // Each backend has each distinct statement once, under Berth's name, whoever prepared it.
    const seen = new Map<string, string>();
    for (let k = 0; k < 6; k++) {
      const { rows } = await clients[k]!.query("SELECT name, statement FROM pg_prepared_statements");
      for (const row of rows) seen.set(row.name, row.statement);
    }
    const names = [...seen.keys()];
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => n === "q1" || n === "q2")).toEqual([]);
    for (const n of names) expect(n).toMatch(/^berth_\d+$/);
    expect([...seen.values()]).toContain("SELECT $1::int * 2 AS v");
    await Promise.all(clients.map((c) => c.end()));
  });

  it("COPY FROM STDIN and COPY TO STDOUT (pg-copy-streams)", async () => {
    const c = await fd.client();
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i + 1}\trow ${i + 1}\n`);
    const ingest = c.query(copyFrom("COPY fd_pg_copy (id, label) FROM STDIN"));
    await pipeline(Readable.from(rows), ingest);
    expect(ingest.rowCount).toBe(20_000);
    const check = await c.query("SELECT count(*)::int AS n, sum(id)::bigint AS s FROM fd_pg_copy");
    expect(check.rows).toEqual([{ n: 20_000, s: String((20_000 * 20_001) / 2) }]);

    let text = "";
    const out = c.query(copyTo("COPY (SELECT id, label FROM fd_pg_copy ORDER BY id) TO STDOUT"));
    for await (const chunk of out) text += String(chunk);
    expect(text).toBe(rows.join(""));
    // A COPY the server refuses halfway (a bad row): the error, then the client goes on.
    const bad = c.query(copyFrom("COPY fd_pg_copy (id, label) FROM STDIN"));
    const refused = await pipeline(Readable.from(["1\tok\n", "not a number\tbad\n", ...rows]), bad).then(
      () => undefined,
      (err: { code?: string }) => err.code,
    );
    expect(refused).toBe("22P02");
    // The client goes on after COPY, on whatever backend.
    expect((await c.query("SELECT 'after copy' AS s")).rows).toEqual([{ s: "after copy" }]);
    await c.end();
  });

  it("LISTEN pins the listener; it receives a NOTIFY another client sends", async () => {
    const before = metricValue(await fd.metrics(), "berth_frontdoor_pins_total", 'why="LISTEN"');
    const listener = await fd.client();
    const talker = await fd.client();
    const received: pg.Notification[] = [];
    listener.on("notification", (n) => received.push(n));
    await listener.query("LISTEN fd_channel");
    const pid = (await listener.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    // Other traffic on the remaining backend does not move the listener.
    for (let i = 0; i < 5; i++) await talker.query("SELECT 1");
    await talker.query("NOTIFY fd_channel, 'first'");
    await talker.query("SELECT pg_notify('fd_channel', 'second')");
    await until("both notifications", () => received.length >= 2, 5000);
    expect(received.map((n) => [n.channel, n.payload])).toEqual([
      ["fd_channel", "first"],
      ["fd_channel", "second"],
    ]);
    expect((await listener.query("SELECT pg_backend_pid() AS pid")).rows[0].pid).toBe(pid);
    const metrics = await fd.metrics();
    expect(metricValue(metrics, "berth_frontdoor_pins_total", 'why="LISTEN"')).toBe(before + 1);
    expect(metricValue(metrics, "berth_frontdoor_clients", 'state="pinned"')).toBeGreaterThanOrEqual(1);
    await listener.end();
    await talker.end();
  });

  it("an error mid-transaction aborts it (25P02) until ROLLBACK; the client then works", async () => {
    const c = await fd.client();
    await c.query("BEGIN");
    expect(await sqlstate(c.query("SELECT 1/0"))).toBe("22012");
    expect(await sqlstate(c.query("SELECT 1"))).toBe("25P02");
    // Extended protocol inside the aborted transaction too.
    expect(await sqlstate(c.query("SELECT $1::int", [1]))).toBe("25P02");
    await c.query("ROLLBACK");
    expect((await c.query("SELECT $1::int AS n", [7])).rows).toEqual([{ n: 7 }]);
    // An error in the extended protocol, inside a transaction, then COMMIT (which rolls back).
    await c.query("BEGIN");
    expect(await sqlstate(c.query("SELECT $1::int / 0", [1]))).toBe("22012");
    const commit = await c.query("COMMIT");
    expect(commit.command).toBe("ROLLBACK");
    // Outside a transaction an error costs nothing.
    expect(await sqlstate(c.query("SELECT * FROM fd_no_such_table"))).toBe("42P01");
    expect((await c.query("SELECT 'fine' AS s")).rows).toEqual([{ s: "fine" }]);
    await c.end();
  });

  it("SET search_path / application_name survive across transactions while 4 clients share 2 backends", async () => {
    const n = 4;
    const clients = await Promise.all(
      Array.from({ length: n }, (_, i) => fd.client(i === 3 ? { application_name: "startup_app_3" } : {})),
    );
    const expected = clients.map((_, i) => ({
      path: `fd_schema_${i}, public`,
      app: i === 3 ? "startup_app_3" : `fd_app_${i}`,
    }));
    for (const [i, c] of clients.entries()) {
      await c.query(`SET search_path TO fd_schema_${i}, public`);
      if (i !== 3) await c.query(`SET application_name = 'fd_app_${i}'`);
    }
    const pidsOf = clients.map(() => new Set<number>());
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        clients.map(async (c, i) => {
          const inTx = (round + i) % 3 === 0;
          if (inTx) await c.query("BEGIN");
          const { rows } = await c.query(
            "SELECT current_setting('search_path') AS path, current_setting('application_name') AS app, pg_backend_pid() AS pid",
          );
          if (inTx) await c.query("COMMIT");
          pidsOf[i]!.add(rows[0].pid);
          expect({ path: rows[0].path, app: rows[0].app }).toEqual(expected[i]);
        }),
      );
    }
    // The clients really did share the two backends.
    const allPids = new Set(pidsOf.flatMap((s) => [...s]));
    expect(allPids.size).toBeLessThanOrEqual(2);
    expect(pidsOf.some((s) => s.size === 2)).toBe(true);
    // RESET goes back to the server's default on whatever backend comes next.
    await clients[0]!.query("RESET search_path");
    for (let k = 0; k < 4; k++) {
      await Promise.all(clients.slice(1).map((c) => c.query("SELECT 1")));
      const { rows } = await clients[0]!.query("SELECT current_setting('search_path') AS path");
      expect(rows[0].path).toBe('"$user", public');
    }
    await Promise.all(clients.map((c) => c.end()));
  });

  it("a CancelRequest stops a running pg_sleep with 57014 quickly; the client works afterwards", async () => {
    const c = await fd.client();
    const other = await fd.client();
    const keys = c as unknown as { processID: number; secretKey: number };
    const started = Date.now();
    const marker = `fd-cancel-${process.pid}-${Date.now()}`;
    const sleeping = sqlstate(c.query(`SELECT pg_sleep(30) /* ${marker} */`));
    // Other suites sleep on this server too: this statement is told apart by a marker.
    const running = async () => (await runningWithMarker(marker)) === 1;
    // The statement is running on a backend before the cancel is sent.
    await until("pg_sleep running", running);
    // A wrong secret cancels nothing.
    await sendCancelRequest(fd.port, keys.processID, keys.secretKey ^ 1);
    expect((await other.query("SELECT 'other works' AS s")).rows).toEqual([{ s: "other works" }]);
    expect(await running()).toBe(true);
    await sendCancelRequest(fd.port, keys.processID, keys.secretKey);
    expect(await sleeping).toBe("57014");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await c.query("SELECT 'usable' AS s")).rows).toEqual([{ s: "usable" }]);
    await c.end();
    await other.end();
  });
});
