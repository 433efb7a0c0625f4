import type { Socket } from "node:net";
import pg from "pg";
import Cursor from "pg-cursor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BENCH_ADMIN_PASSWORD, startBerthProcess } from "../bench/berth-process.js";
import { serviceAvailable } from "../support/services.js";
import { freePort } from "../support/throwaway-postgres.js";

/**
 * Issue 12, "Done when" 1: a 1,000,000-row result (about 120 MB on the wire) read slowly through
 * the front door. Berth runs as its own process so that its resident memory is measured alone: it
 * must stay flat — the slow client's socket pushes back on the backend's, nothing piles up in Berth.
 */
const hasPostgres = await serviceAvailable("postgres");

const ROWS = 1_000_000;
const QUERY = `SELECT g, repeat('x', 100) AS pad FROM generate_series(1, ${ROWS}) g`;
/** What Berth may grow by while it passes the whole result on. */
const MAX_GROWTH_MIB = 50;

let berth: Awaited<ReturnType<typeof startBerthProcess>> | undefined;
let pgPort = 0;

async function client(): Promise<pg.Client> {
  const c = new pg.Client({
    host: "127.0.0.1",
    port: pgPort,
    user: "admin",
    password: BENCH_ADMIN_PASSWORD,
    database: "fd_large",
  });
  c.on("error", () => {});
  await c.connect();
  return c;
}

/** Samples Berth's RSS until stopped; answers the largest seen. */
function sampleRss(): { stop(): number } {
  let max = berth!.rssMiB();
  const timer = setInterval(() => {
    max = Math.max(max, berth!.rssMiB());
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, berth!.rssMiB());
    },
  };
}

describe.skipIf(!hasPostgres)("a 1,000,000-row result with a slow reader through the front door", () => {
  beforeAll(async () => {
    pgPort = await freePort();
    berth = await startBerthProcess({ BERTH_PG_PORT: String(pgPort) });
    await berth.api("/api/connections", {
      name: "fd_large",
      type: "postgresql",
      server: "127.0.0.1",
      port: 5432,
      database: "test",
      username: "postgres",
      password: "",
      maxPoolSize: 2,
    });
  });

  afterAll(async () => {
    await berth?.stop();
  });

  it("a simple query read through a slow socket: every row arrives, Berth's memory stays flat", async () => {
    const c = await client();
    // Warm up the path (pool, buffers) before the baseline is taken.
    await c.query("SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g");
    const baseline = berth!.rssMiB();
    const rss = sampleRss();
    const socket = (c as unknown as { connection: { stream: Socket } }).connection.stream;
    let rows = 0;
    let bytes = 0;
    let last = 0;
    let inOrder = true;
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const q = new pg.Query<[number, string]>({ text: QUERY, rowMode: "array" } as pg.QueryConfig);
      // A 'row' listener and no callback: node-postgres does not keep the rows.
      q.on("row", (row: [number, string]) => {
        rows++;
        bytes += row[1].length + 8;
        if (row[0] !== last + 1) inOrder = false;
        last = row[0];
        // The first 150,000 rows at 1000 rows per 20 ms, then as fast as it goes.
        if (rows <= 150_000 && rows % 1000 === 0) {
          socket.pause();
          setTimeout(() => socket.resume(), 20);
        }
      });
      q.on("end", () => resolve());
      q.on("error", reject);
      c.query(q);
    });
    const peak = rss.stop();
    expect(rows).toBe(ROWS);
    expect(inOrder).toBe(true);
    expect(bytes).toBeGreaterThan(100 * 1024 * 1024);
    // The slow part really was slow (the reader set the pace, not the server).
    expect(Date.now() - started).toBeGreaterThan(2500);
    expect(peak - baseline).toBeLessThan(MAX_GROWTH_MIB);
    expect((await c.query("SELECT 'still fine' AS s")).rows).toEqual([{ s: "still fine" }]);
    await c.end();
  }, 60_000);

  it("a pg-cursor read 1000 rows per 20 ms, then fast: every row arrives, Berth's memory stays flat", async () => {
    const c = await client();
    await c.query("SELECT 1");
    const baseline = berth!.rssMiB();
    const rss = sampleRss();
    const cursor = c.query(new Cursor(QUERY, [], { rowMode: "array" }));
    let rows = 0;
    let last = 0;
    let inOrder = true;
    for (;;) {
      const slow = rows < 100_000;
      const batch = (await cursor.read(slow ? 1000 : 50_000)) as unknown as [number, string][];
      if (batch.length === 0) break;
      for (const row of batch) {
        if (row[0] !== last + 1) inOrder = false;
        last = row[0];
      }
      rows += batch.length;
      if (slow) await new Promise((r) => setTimeout(r, 20));
    }
    await cursor.close();
    const peak = rss.stop();
    expect(rows).toBe(ROWS);
    expect(inOrder).toBe(true);
    expect(peak - baseline).toBeLessThan(MAX_GROWTH_MIB);
    expect((await c.query("SELECT 'after the cursor' AS s")).rows).toEqual([{ s: "after the cursor" }]);
    await c.end();
  }, 60_000);
});
