import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPgConnection,
  failureOf,
  frontDoorClient,
  metricSamples,
  type PgFailure,
} from "../support/frontdoor-pg.js";
import { runningWithMarker } from "../support/pg-activity.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";
import { until } from "../support/waits.js";

/**
 * The front door under faults (issue 12, "Done when"): an exhausted pool, the database restarted
 * under load, a client that vanishes mid-transaction; and the metrics that show it.
 */
const hasPostgres = await serviceAvailable("postgres");
const hasBinaries = postgresBinDir() !== undefined;
const METRICS_TOKEN = "metrics-token-frontdoor-faults";

let t: TestBerth;
beforeAll(async () => {
  if (!hasPostgres) return;
  t = await startTestBerth({
    BERTH_PG_PORT: "0",
    BERTH_METRICS_TOKEN: METRICS_TOKEN,
    BERTH_CONNECT_TIMEOUT_MS: "1000",
    BERTH_HEALTH_INTERVAL_MS: "1000",
  });
}, 60_000);
afterAll(async () => t?.close());

const stats = (id: string) => {
  const pools = t.berth.dataPlane.pools.poolsOf(id);
  return {
    size: pools.reduce((n, p) => n + p.stats().size, 0),
    inUse: pools.reduce((n, p) => n + p.stats().inUse, 0),
    waiting: pools.reduce((n, p) => n + p.stats().waiting, 0),
  };
};

/** A direct client of the local PostgreSQL (not through Berth), to look at what the server holds. */
async function direct<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...LOCAL.postgres });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

describe.skipIf(!hasPostgres)("a pool of 2 and 20 clients holding transactions open", () => {
  it("queues the rest, answers 53300 past acquireTimeoutMs with max_size=2, then recovers with nothing leaked", async () => {
    const id = await createPgConnection(t, "fd-pool2", { maxPoolSize: 2, acquireTimeoutMs: 1000 });
    const clients = Array.from({ length: 20 }, () => frontDoorClient(t, { database: "fd-pool2" }));
    await Promise.all(clients.map((c) => c.connect()));
    const txBefore =
      (await metricSamples(t, METRICS_TOKEN, "berth_frontdoor_transactions_total")).get("") ?? 0;

    const outcomes: (PgFailure | "ok")[] = [];
    const runs = clients.map(async (c) => {
      try {
        await c.query("BEGIN");
        await c.query("SELECT pg_sleep(2)");
        await c.query("COMMIT");
        outcomes.push("ok");
      } catch (err) {
        outcomes.push(failureOf(err));
        await c.query("ROLLBACK").catch(() => {});
      }
    });
    // While two hold the sessions, eighteen wait: the pool and the metrics both say so.
    await until("18 clients waiting", () => stats(id).waiting === 18, 900);
    const states = await metricSamples(t, METRICS_TOKEN, "berth_frontdoor_clients");
    expect(states.get(`{connection_id="${id}",state="waiting"}`)).toBe(18);
    expect(states.get(`{connection_id="${id}",state="active"}`)).toBe(2);
    await Promise.all(runs);

    const failures = outcomes.filter((o): o is PgFailure => o !== "ok");
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(2);
    expect(failures).toHaveLength(18);
    for (const f of failures) {
      expect(f.code).toBe("53300");
      expect(f.message).toMatch(/fd-pool2/);
      expect(f.detail).toMatch(/max_size=2/);
      expect(f.detail).toMatch(/current_size=2/);
      expect(f.hint).toMatch(/acquireTimeoutMs|maxPoolSize/);
    }
    // Every client is still connected and served once the sessions are free.
    const again = await Promise.all(clients.map((c) => c.query("SELECT 1 AS one")));
    expect(again.every((r) => r.rows[0].one === 1)).toBe(true);
    expect(clients.flatMap((c) => c.errors)).toEqual([]);
    await Promise.all(clients.map((c) => c.end()));

    await until("the pool to be idle", () => stats(id).inUse === 0 && stats(id).waiting === 0, 2_000);
    expect(stats(id).size).toBeLessThanOrEqual(2);
    const sessions = await metricSamples(t, METRICS_TOKEN, "berth_pool_sessions");
    expect(sessions.get(`{connection_id="${id}",connection_name="fd-pool2",state="in_use"}`)).toBe(0);
    expect(sessions.get(`{connection_id="${id}",connection_name="fd-pool2",state="waiting"}`)).toBe(0);
    const status = await t.api(`/api/connections/${id}/status`);
    expect(status.status).toBe(200);
    expect(status.body.pool).toMatchObject({ inUse: 0, waiting: 0 });
    // Transactions counted: 20 single statements and two committed transactions at least.
    const txAfter =
      (await metricSamples(t, METRICS_TOKEN, "berth_frontdoor_transactions_total")).get("") ?? 0;
    expect(txAfter - txBefore).toBeGreaterThanOrEqual(22);
    await until("no client left in the metrics", async () => {
      const s = await metricSamples(t, METRICS_TOKEN, "berth_frontdoor_clients");
      return ![...s.entries()].some(([k, v]) => k.includes(id) && v > 0);
    });
  }, 30_000);
});

describe.skipIf(!hasPostgres)("a client killed mid-transaction", () => {
  it("its backend is rolled back and handed on clean: no temp table, no setting, no uncommitted row", async () => {
    await direct((c) => c.query("CREATE TABLE IF NOT EXISTS fd_killed_rows (marker text)"));
    const marker = `killed-${Date.now()}`;
    const defaults = await direct(async (c) => {
      const r = await c.query(
        "SELECT current_setting('work_mem') AS wm, current_setting('search_path') AS sp",
      );
      return r.rows[0] as { wm: string; sp: string };
    });
    await createPgConnection(t, "fd-pool1", { maxPoolSize: 1, acquireTimeoutMs: 5000 });

    const victim = frontDoorClient(t, { database: "fd-pool1" });
    await victim.connect();
    await victim.query("SET search_path = pg_catalog, public");
    await victim.query("BEGIN");
    const pid = (await victim.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    await victim.query("CREATE TEMP TABLE fd_killed_temp (x int)");
    await victim.query("SET LOCAL statement_timeout = '1234s'");
    await victim.query("SET work_mem = '7777kB'");
    await victim.query("INSERT INTO fd_killed_rows VALUES ($1)", [marker]);
    (victim as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();

    const next = frontDoorClient(t, { database: "fd-pool1" });
    await next.connect();
    const seen = await next.query(
      `SELECT pg_backend_pid() AS pid, current_setting('work_mem') AS wm, current_setting('search_path') AS sp,
              current_setting('statement_timeout') AS st, to_regclass('pg_temp.fd_killed_temp') AS temp,
              (SELECT count(*)::int FROM fd_killed_rows WHERE marker = $1) AS rows,
              (SELECT count(*)::int FROM pg_class WHERE relname = 'fd_killed_temp') AS anywhere`,
      [marker],
    );
    expect(seen.rows[0]).toEqual({
      pid, // the same backend, reused
      wm: defaults.wm,
      sp: defaults.sp,
      st: "0",
      temp: null,
      rows: 0,
      anywhere: 0,
    });
    // Not committed behind anyone's back later either.
    expect(
      await direct(
        async (c) =>
          (await c.query("SELECT count(*)::int AS n FROM fd_killed_rows WHERE marker = $1", [marker])).rows[0]
            .n,
      ),
    ).toBe(0);
    await next.end();
  });

  it("killed while a statement runs: the backend is not handed on mid-answer, and the next client is served", async () => {
    const id = await createPgConnection(t, "fd-pool1-busy", { maxPoolSize: 1, acquireTimeoutMs: 5000 });
    const marker = `fd-killed-busy-${Date.now()}`;
    const victim = frontDoorClient(t, { database: "fd-pool1-busy" });
    await victim.connect();
    await victim.query("BEGIN");
    await victim.query("CREATE TEMP TABLE fd_killed_busy (x int)");
    const running = victim.query(`SELECT pg_sleep(30) /* ${marker} */`).catch(() => {});
    await until("the sleep to run", async () => (await runningWithMarker(marker)) === 1);
    (victim as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await running;

    const next = frontDoorClient(t, { database: "fd-pool1-busy" });
    await next.connect();
    const started = Date.now();
    const r = await next.query(
      "SELECT to_regclass('pg_temp.fd_killed_busy') AS temp, (SELECT count(*)::int FROM pg_class WHERE relname = 'fd_killed_busy') AS anywhere",
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.rows[0]).toEqual({ temp: null, anywhere: 0 });
    await next.end();
    // The sleeping backend does not linger on the server.
    await until("the sleep to be gone from the server", async () => (await runningWithMarker(marker)) === 0);
    await until("the pool to be idle", () => stats(id).inUse === 0, 2_000);
    expect(stats(id).size).toBeLessThanOrEqual(1);
  });
});

describe.skipIf(!hasPostgres || !hasBinaries)("the database restarted under load", () => {
  let cluster: ThrowawayPostgres;
  beforeAll(async () => {
    cluster = await startThrowawayPostgres({ password: "frontdoor-restart-pw" });
    await cluster.sql("CREATE TABLE ticks (n int)");
  }, 60_000);
  afterAll(async () => cluster?.destroy());

  it("in-flight transactions fail with 08006 (the server's 57P01 in the detail), clients stay connected, new ones succeed once it is back, nothing leaks", async () => {
    const id = await createPgConnection(t, "fd-restart", {
      server: cluster.host,
      port: cluster.port,
      database: "postgres",
      password: cluster.password,
      maxPoolSize: 3,
      acquireTimeoutMs: 3000,
    });
    const clients = Array.from({ length: 6 }, () => frontDoorClient(t, { database: "fd-restart" }));
    await Promise.all(clients.map((c) => c.connect()));

    const errors = new Map<string, number>();
    const messages: string[] = [];
    const successes: number[] = [];
    let running = true;
    const loop = async (c: (typeof clients)[number]) => {
      while (running) {
        try {
          await c.query("BEGIN");
          await c.query("INSERT INTO ticks VALUES (1)");
          await c.query("SELECT pg_sleep(0.02)");
          await c.query("COMMIT");
          successes.push(Date.now());
        } catch (err) {
          const f = failureOf(err);
          errors.set(String(f.code), (errors.get(String(f.code)) ?? 0) + 1);
          messages.push(`${f.code}: ${f.message}${f.detail ? ` (${f.detail})` : ""}`);
          await c.query("ROLLBACK").catch(() => {});
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const loops = clients.map(loop);
    await until("transactions to run", () => successes.length >= 20, 10_000);
    await cluster.stop();
    await cluster.start();
    const back = Date.now();
    await until(
      "transactions after the restart",
      () => successes.filter((s) => s > back).length >= 12,
      15_000,
    );
    running = false;
    await Promise.all(loops);

    // Transactions in flight when the server went down lose their session: 08006, the server's
    // own FATAL (57P01) never forwarded as the client's end. Those that
    // began while it was down or starting get 08006 too ("cannot be reached").
    const seen = `errors by SQLSTATE ${JSON.stringify([...errors])}: ${messages.slice(0, 8).join(" | ")}`;
    expect(errors.get("08006") ?? 0, seen).toBeGreaterThan(0);
    expect([...errors.keys()], seen).toEqual(["08006"]);
    const lost = messages.filter((m) => m.includes('session of connection "fd-restart" was lost'));
    expect(lost.length, seen).toBeGreaterThan(0);
    // The server's FATAL is in the detail when Berth read it before the socket closed (a reset can
    // drop it under load); when it is there, it is the server's shutdown, never anything else.
    for (const m of lost)
      if (m.includes("The database ended the session"))
        expect(m).toMatch(/The database ended the session: 57P01/);
    // Every client's connection to Berth survived: each runs a transaction now.
    for (const c of clients) {
      await c.query("BEGIN");
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await c.query("COMMIT");
    }
    expect(clients.flatMap((c) => c.errors)).toEqual([]);
    await Promise.all(clients.map((c) => c.end()));

    await until("the pool to be idle", () => stats(id).inUse === 0 && stats(id).waiting === 0, 2_000);
    expect(stats(id).size).toBeLessThanOrEqual(3);
    const onServer = Number(
      await cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'berth'"),
    );
    expect(onServer).toBeLessThanOrEqual(3);
    expect(onServer).toBeLessThanOrEqual(stats(id).size);
  }, 60_000);
});
