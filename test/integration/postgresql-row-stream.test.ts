import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Credentials } from "../../src/connections/settings.js";
import type { DriverSession, QueryChunk, QueryOptions } from "../../src/drivers/driver.js";
import { postgresDriver } from "../../src/engines/postgresql/driver.js";
import { connectParamsFor } from "../support/engine-params.js";
import { LOCAL, serviceAvailable } from "../support/services.js";

/**
 * PostgreSQL's row stream on the real server, below the pool and the RPC layers: rows in byte-sized
 * batches, a slow consumer holding the server (the socket is paused, so the backend waits to write),
 * a row limit, an early stop and a cancel, and the session usable after each.
 */
const hasPostgres = await serviceAvailable("postgres");
const BIG = "SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 100000) g";
let session: DriverSession;
let observer: DriverSession;

const open = () =>
  postgresDriver.connect({
    ...connectParamsFor("postgresql", {
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      sslMode: "disable",
    }),
    credentials: new Credentials(LOCAL.postgres.user, "", undefined),
  });

beforeAll(async () => {
  if (!hasPostgres) return;
  session = await open();
  observer = await open();
});
afterAll(async () => {
  await session?.close().catch(() => {});
  await observer?.close().catch(() => {});
});

async function values(s: DriverSession, sql: string, options: Partial<QueryOptions> = {}) {
  const chunks: QueryChunk[] = [];
  for await (const c of s.query(sql, [], { maxRows: 0, batchBytes: 64 * 1024, ...options })) chunks.push(c);
  return {
    chunks,
    rows: chunks.flatMap((c) => c.rows ?? []).map((r) => r.values.map((v) => v.kind.value)),
    completion: chunks.at(-1)?.completion,
  };
}

/** What the session's backend is doing now, seen from another connection. */
async function backend(pid: string) {
  const r = await values(
    observer,
    `SELECT state, coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = ${pid}`,
  );
  return r.rows[0]?.join(" ") ?? "";
}

describe.skipIf(!hasPostgres)("PostgreSQL row stream", () => {
  it("delivers a large result complete and in order, in batches of about batchBytes", async () => {
    const r = await values(session, "SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 20000) g");
    expect(r.rows).toHaveLength(20_000);
    expect(r.rows.map((x) => Number(x[0]))).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
    const batches = r.chunks.filter((c) => c.rows).map((c) => c.rows!.length);
    // ~1 KB a row, 64 KB a batch.
    expect(batches.length).toBeGreaterThan(200);
    expect(Math.max(...batches)).toBeLessThanOrEqual(70);
    expect(r.completion).toMatchObject({ rowsReturned: 20_000n, truncated: false, commandTag: "SELECT" });
  });

  it("holds the server while the consumer does not read, then finishes the result", async () => {
    // Each row the server produces draws from a sequence, which another connection can read.
    const seq = `rows_made_${process.pid}`;
    await values(session, `CREATE SEQUENCE ${seq}`);
    try {
      const pid = String((await values(session, "SELECT pg_backend_pid()")).rows[0]![0]);
      const sql = `SELECT nextval('${seq}') AS g, repeat('x', 1000) AS pad FROM generate_series(1, 100000)`;
      const it = session.query(sql, [], { maxRows: 0, batchBytes: 64 * 1024 })[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done).toBe(false);
      // Until the server stops producing rows: the same count and the backend waiting to write, ten
      // looks in a row. Without backpressure Berth reads on and the count climbs to the end instead.
      let made = -1;
      let state = "";
      for (let same = 0; same < 10 && !state.startsWith("idle"); ) {
        const r = await values(observer, `SELECT last_value FROM ${seq}`);
        const now = Number(r.rows[0]![0]);
        state = await backend(pid);
        same = now === made && state === "active ClientWrite" ? same + 1 : 0;
        made = now;
      }
      expect(state).toBe("active ClientWrite");
      // Socket buffers' worth (a few MB at most) of 1 KB rows, far from all 100,000.
      expect(made).toBeLessThan(20_000);
      let rows = first.value?.rows?.length ?? 0;
      for (;;) {
        const n = await it.next();
        if (n.done) break;
        rows += n.value.rows?.length ?? 0;
      }
      expect(rows).toBe(100_000);
    } finally {
      await values(session, `DROP SEQUENCE IF EXISTS ${seq}`);
    }
  });

  it("stops at max_rows on the server and says the result was cut", async () => {
    const r = await values(session, BIG, { maxRows: 10 });
    expect(r.rows).toHaveLength(10);
    expect(r.completion).toMatchObject({ rowsReturned: 10n, truncated: true });
  });

  it("an early stop leaves the session usable for the next statement", async () => {
    for await (const c of session.query(BIG, [], { maxRows: 0, batchBytes: 64 * 1024 })) {
      if (c.rows) break;
    }
    const r = await values(session, "SELECT 41 + 1 AS answer");
    expect(r.rows).toEqual([[42n]]);
  });

  it("a cancel stops the running statement and the session goes on", async () => {
    const running = values(session, "SELECT pg_sleep(30)").then(
      () => "finished",
      (e: unknown) => String(e),
    );
    for (let i = 0; ; i++) {
      const r = await values(
        observer,
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'",
      );
      if (Number(r.rows[0]![0]) > 0) break;
      if (i > 300) throw new Error("the statement never started");
    }
    await session.cancel();
    expect(await running).toMatch(/cancel/i);
    expect((await values(session, "SELECT 1 AS one")).rows).toEqual([[1n]]);
  });
});
