import { Code, ConnectError } from "@connectrpc/connect";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import {
  brokerClients,
  collect,
  leaseTransactionRoundTrip,
  openSession,
  plain,
  stmt,
} from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

const METRICS_TOKEN = "metrics-token-for-the-broker-test";
const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

let b: TestBerth;
let client: ReturnType<typeof brokerClients>;
const ids: Record<string, string> = {};

const ENGINES = [
  {
    name: "postgresql",
    available: hasPostgres,
    spec: {
      type: Engine.POSTGRESQL,
      server: "127.0.0.1",
      port: LOCAL.postgres.port,
      database: "test",
      username: "postgres",
      password: "",
    },
    sleep: "SELECT pg_sleep(10)",
    p: (n: number) => `$${n}`,
  },
  {
    name: "mysql",
    available: hasMariadb,
    spec: {
      type: Engine.MYSQL,
      server: "127.0.0.1",
      port: LOCAL.mariadb.port,
      database: "test",
      username: "root",
      password: "",
    },
    sleep: "SELECT SLEEP(10)",
    p: (_n: number) => "?",
  },
] as const;

beforeAll(async () => {
  b = await startTestBerth({ BERTH_CANCEL_GRACE_MS: "1000", BERTH_METRICS_TOKEN: METRICS_TOKEN });
  client = brokerClients(b.url, b.adminToken);
  for (const e of ENGINES) {
    if (!e.available) continue;
    const { connection } = await client.connections.createConnection(
      { spec: { ...e.spec, name: `broker-${e.name}` } },
      client.call,
    );
    ids[e.name] = connection!.id;
    // A one-session pool, so that leases provably reuse the same server session.
    const { connection: one } = await client.connections.createConnection(
      { spec: { ...e.spec, name: `single-${e.name}`, maxPoolSize: 1, acquireTimeoutMs: 300 } },
      client.call,
    );
    ids[`single-${e.name}`] = one!.id;
  }
});
afterAll(async () => b?.close());

afterEach(async () => {
  // Every test leaves the pools as it found them: nothing borrowed, nobody waiting, no lease held.
  await new Promise((r) => setTimeout(r, 50));
  for (const pool of b.berth.dataPlane.pools.all()) {
    expect(pool.stats(), `pool ${pool.settings.name}`).toMatchObject({ inUse: 0, waiting: 0 });
  }
  expect(b.berth.dataPlane.leases.active).toBe(0);
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected a failure");
}

describe.each(ENGINES)("$name", (engine) => {
  const run = (
    sql: string,
    params: Parameters<typeof stmt>[1] = [],
    extra: Parameters<typeof stmt>[2] = {},
    id = ids[engine.name]!,
  ) =>
    collect(
      client.broker.execute(
        { target: { case: "connectionId", value: id }, statement: stmt(sql, params, extra) },
        client.call,
      ),
    );

  it.skipIf(!engine.available)(
    "runs a one-shot statement with bound parameters and typed results",
    async () => {
      const injection = "x'); DROP TABLE users; --";
      const r = await run(`SELECT ${engine.p(1)} AS n, ${engine.p(2)} AS s`, [
        { $typeName: "berth.v1.Value", kind: { case: "int64", value: 9007199254740993n } },
        { $typeName: "berth.v1.Value", kind: { case: "text", value: injection } },
      ]);
      expect(r.columns.map((c) => c.name)).toEqual(["n", "s"]);
      // Through a text parameter the engine may answer text or a number: either way, not rounded.
      expect(String(plain(r.rows[0]!.values[0]))).toBe("9007199254740993");
      expect(plain(r.rows[0]!.values[1])).toBe(injection);
      expect(r.complete?.rowsReturned).toBe(1n);
      // Columns, the row and the completion were ready together: one message on the wire.
      expect(r.messages).toBe(1);
    },
  );

  it.skipIf(!engine.available)(
    "reuses pooled sessions: reset keeps them, 20 statements open one",
    async () => {
      const single = ids[`single-${engine.name}`]!;
      await run("SELECT 1", [], {}, single);
      const pool = b.berth.dataPlane.pools.poolsOf(single)[0]!;
      let created = 0;
      let destroyed = 0;
      const onCreated = () => created++;
      const onDestroyed = () => destroyed++;
      pool.on("created", onCreated);
      pool.on("destroyed", onDestroyed);
      try {
        for (let i = 0; i < 20; i++) await run("SELECT 1", [], {}, single);
      } finally {
        pool.off("created", onCreated);
        pool.off("destroyed", onDestroyed);
      }
      expect({ created, destroyed }).toEqual({ created: 0, destroyed: 0 });
    },
  );

  it.skipIf(!engine.available)(
    "reports a SQL error with the engine's code and keeps the pool healthy",
    async () => {
      const err = await failure(run("SELECT * FROM no_such_table_here"));
      expect(err.code).toBe(Code.FailedPrecondition);
      const info = err.findDetails(ErrorInfoSchema)[0]!;
      expect(info.reason).toBe("query_failed");
      expect(info.metadata.error_code).toBe(engine.name === "postgresql" ? "42P01" : "1146");
      expect((await run("SELECT 1")).rows).toHaveLength(1);
    },
  );

  it.skipIf(!engine.available)(
    "streams 100,000 rows complete and in order, in batches",
    async () => {
      const sql =
        engine.name === "postgresql"
          ? "SELECT g FROM generate_series(1, 100000) g"
          : "SELECT seq FROM seq_1_to_100000"; // MariaDB's Sequence engine
      const events = client.broker.execute(
        { target: { case: "connectionId", value: ids[engine.name]! }, statement: stmt(sql) },
        client.call,
      );
      let expected = 1n;
      let batches = 0;
      let completion: unknown;
      for await (const e of events) {
        if (e.rows) {
          batches++;
          for (const r of e.rows.rows) {
            expect(BigInt(plain(r.values[0]) as bigint)).toBe(expected);
            expected++;
          }
        }
        if (e.complete) completion = e.complete;
      }
      expect(expected - 1n).toBe(100000n);
      expect(batches).toBeGreaterThan(5);
      expect(completion).toMatchObject({ rowsReturned: 100000n, truncated: false });
    },
    60_000,
  );

  it.skipIf(!engine.available)("stops at max_rows and says the result was truncated", async () => {
    const sql =
      engine.name === "postgresql"
        ? "SELECT g FROM generate_series(1, 5000) g"
        : "SELECT seq FROM seq_1_to_5000";
    const r = await run(sql, [], { maxRows: 10n });
    expect(r.rows).toHaveLength(10);
    expect(r.complete).toMatchObject({ truncated: true, rowsReturned: 10n });
  });

  it.skipIf(!engine.available)("cancels a statement on the server when it exceeds timeout_ms", async () => {
    const started = performance.now();
    // A marker of this run's own, so that statements of other test runs on the shared server do not count.
    const marker = `berth_cancel_${Math.random().toString(36).slice(2)}`;
    const err = await failure(run(`${engine.sleep} /* ${marker} */`, [], { timeoutMs: 500 }));
    const elapsed = performance.now() - started;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(elapsed).toBeLessThan(2_500);
    // Seen on the server: no sleeping statement of Berth's is left running.
    await new Promise((r) => setTimeout(r, 200));
    if (engine.name === "postgresql") {
      const c = new pg.Client({
        host: "127.0.0.1",
        port: LOCAL.postgres.port,
        user: "postgres",
        database: "test",
      });
      await c.connect();
      const { rows } = await c.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()",
        [`%/* ${marker} */%`],
      );
      await c.end();
      expect(rows[0].n).toBe(0);
    } else {
      const c = await mysql.createConnection({ host: "127.0.0.1", port: LOCAL.mariadb.port, user: "root" });
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
        [`%/* ${marker} */%`],
      );
      await c.end();
      expect(Number(rows[0]!.n)).toBe(0);
    }
    // The session went back to the pool and works.
    expect((await run("SELECT 1")).rows).toHaveLength(1);
  });

  it.skipIf(!engine.available)(
    "a SET made in one lease is not visible in the next (same server session)",
    async () => {
      const single = ids[`single-${engine.name}`]!;
      const setSql = engine.name === "postgresql" ? "SET statement_timeout = 1234" : "SET @berth_leak = 42";
      const showSql = engine.name === "postgresql" ? "SHOW statement_timeout" : "SELECT @berth_leak";
      const s1 = openSession(client);
      s1.send({ case: "open", value: { connectionId: single } });
      expect((await s1.next()).event.case).toBe("opened");
      s1.send({ case: "execute", value: stmt(setSql) });
      expect((await s1.result()).error).toBeUndefined();
      s1.send({ case: "execute", value: stmt(showSql) });
      expect(String(plain((await s1.result()).rows[0]!.values[0]))).toMatch(/1234|42/);
      s1.close();
      await s1.next().catch(() => {});
      const after = await run(showSql, [], {}, single);
      expect(String(plain(after.rows[0]!.values[0]))).not.toMatch(/1234|42/);
    },
  );

  it.skipIf(!engine.available)("a one-shot SET does not leak to the next borrower either", async () => {
    const single = ids[`single-${engine.name}`]!;
    await run(
      engine.name === "postgresql" ? "SET work_mem = '7777kB'" : "SET @berth_oneshot = 7",
      [],
      {},
      single,
    );
    const after = await run(
      engine.name === "postgresql" ? "SHOW work_mem" : "SELECT @berth_oneshot",
      [],
      {},
      single,
    );
    expect(String(plain(after.rows[0]!.values[0]))).not.toMatch(/7777|^7$/);
  });

  it.skipIf(!engine.available)(
    "a client that disconnects mid-transaction leaves no open transaction",
    async () => {
      const table = `berth_tx_${engine.name}_${Date.now()}`;
      await run(`CREATE TABLE ${table} (id int)`);
      try {
        const s = openSession(client);
        s.send({ case: "open", value: { connectionId: ids[engine.name]! } });
        await s.next();
        s.send({ case: "begin", value: {} });
        expect((await s.next()).event.case).toBe("transaction");
        s.send({ case: "execute", value: stmt(`INSERT INTO ${table} VALUES (1)`) });
        await s.result();
        s.abort();
        if (engine.name === "postgresql") {
          // The aborted transaction held a lock on this table (its insert); once rolled back, none
          // does. (Scoped to the table: other suites running at the same time hold transactions of
          // their own.)
          await until("the abandoned transaction is rolled back", async () => {
            const held = await run(
              `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '${table}' AND l.pid <> pg_backend_pid()`,
            );
            return String(plain(held.rows[0]!.values[0])) === "0";
          });
        }
        const count = await run(`SELECT COUNT(*) FROM ${table}`);
        expect(String(plain(count.rows[0]!.values[0]))).toBe("0");
      } finally {
        await run(`DROP TABLE ${table}`);
      }
    },
  );

  it.skipIf(!engine.available)("answers pool_exhausted within the acquire timeout", async () => {
    const single = ids[`single-${engine.name}`]!;
    const { lease } = await client.broker.acquireLease({ connectionId: single }, client.call);
    try {
      const started = performance.now();
      const err = await failure(run("SELECT 1", [], {}, single));
      const elapsed = performance.now() - started;
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.findDetails(ErrorInfoSchema)[0]?.metadata).toMatchObject({
        reason: "pool_exhausted",
        current_size: "1",
        max_size: "1",
      });
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(1_500);
    } finally {
      await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
    }
  });

  it.skipIf(!engine.available)(
    "keeps statements in order on a session stream and reports errors in-band",
    async () => {
      const s = openSession(client);
      s.send({ case: "open", value: { connectionId: ids[engine.name]! } });
      await s.next();
      s.send({ case: "execute", value: stmt("SELECT 1") });
      s.send({ case: "execute", value: stmt("SELECT * FROM no_such_table_either") });
      s.send({ case: "execute", value: stmt("SELECT 3") });
      expect(plain((await s.result()).rows[0]!.values[0])).toBe(1n);
      const bad = await s.result();
      expect(bad.error?.reason).toBe("query_failed");
      expect(plain((await s.result()).rows[0]!.values[0])).toBe(3n);
      s.close();
      await s.next().catch(() => {});
    },
  );

  it.skipIf(!engine.available)("commits and rolls back on a lease id", async () => {
    const table = `berth_lease_${engine.name}_${Date.now()}`;
    await run(`CREATE TABLE ${table} (id int)`);
    try {
      await leaseTransactionRoundTrip(client, ids[engine.name]!, table);
      const r = await run(`SELECT id FROM ${table}`);
      expect(r.rows.map((x) => String(plain(x.values[0])))).toEqual(["2"]);
    } finally {
      await run(`DROP TABLE ${table}`);
    }
  });
});

describe.skipIf(!hasPostgres)("leases", () => {
  it("belong to the principal that took them: another user with access cannot touch one", async () => {
    const id = ids.postgresql!;
    const member = (
      await b.api("/api/users", { body: { username: "lease-thief", password: "lease-thief-pw" } })
    ).body;
    await b.api(`/api/connections/${id}/access`, { body: { userId: member.id, accessLevel: "user" } });
    const token = (
      await b.api("/api/auth/login", {
        body: { username: "lease-thief", password: "lease-thief-pw" },
        token: null,
      })
    ).body.token as string;
    const thief = brokerClients(b.url, token);
    // The thief may use the connection itself...
    expect(
      (
        await collect(
          thief.broker.execute(
            { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") },
            thief.call,
          ),
        )
      ).rows,
    ).toHaveLength(1);
    // ...but not the admin's lease, whose id it somehow learned.
    const { lease } = await client.broker.acquireLease({ connectionId: id }, client.call);
    try {
      const leaseId = lease!.id;
      // Each call starts only when awaited: a rejection must never wait unobserved.
      const tries: (() => Promise<unknown>)[] = [
        () =>
          collect(
            thief.broker.execute(
              { target: { case: "leaseId", value: leaseId }, statement: stmt("SELECT 1") },
              thief.call,
            ),
          ),
        () => thief.broker.renewLease({ leaseId }, thief.call),
        () => thief.broker.begin({ leaseId }, thief.call),
        () => thief.broker.releaseLease({ leaseId }, thief.call),
      ];
      for (const t of tries) expect((await failure(t())).code).toBe(Code.NotFound);
      // The owner's lease is untouched and still works.
      const mine = await collect(
        client.broker.execute(
          { target: { case: "leaseId", value: leaseId }, statement: stmt("SELECT 1") },
          client.call,
        ),
      );
      expect(mine.rows).toHaveLength(1);
    } finally {
      await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
      await b.api(`/api/connections/${id}/access/${member.id}`, { method: "DELETE" });
    }
  });

  it("a silent session stream is closed after its idle TTL, and its session returns", async () => {
    const s = openSession(client);
    s.send({ case: "open", value: { connectionId: ids.postgresql!, idleTtlMs: 1000 } });
    expect((await s.next()).event.case).toBe("opened");
    // One statement re-arms the clock; then silence.
    s.send({ case: "execute", value: stmt("SELECT 1") });
    await s.result();
    const started = performance.now();
    const err = await failure(s.next());
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.findDetails(ErrorInfoSchema)[0]?.metadata.reason).toBe("idle_timeout");
    expect(performance.now() - started).toBeGreaterThan(800);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("expire when idle and return their session", async () => {
    const { lease } = await client.broker.acquireLease(
      { connectionId: ids.postgresql!, idleTtlMs: 1000 },
      client.call,
    );
    const pool = b.berth.dataPlane.pools.poolsOf(ids.postgresql!)[0]!;
    expect(pool.stats().inUse).toBe(1);
    await new Promise((r) => setTimeout(r, 2_300));
    expect(pool.stats().inUse).toBe(0);
    const err = await failure(client.broker.renewLease({ leaseId: lease!.id }, client.call));
    expect(err.code).toBe(Code.NotFound);
  });
});

describe.skipIf(!hasPostgres)("status, reset and metrics", () => {
  it("shows pool statistics and host health, resets the pool, and exports metrics", async () => {
    const id = ids.postgresql!;
    await collect(
      client.broker.execute(
        { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") },
        client.call,
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const status = await b.api(`/api/connections/${id}/status`);
    expect(status.status).toBe(200);
    expect(status.body.pool).toMatchObject({ maxSize: 10, inUse: 0 });
    expect(status.body.pool.size).toBeGreaterThanOrEqual(1);
    expect(status.body.hosts[0]).toMatchObject({ role: "primary", status: "healthy" });
    const reset = await b.api(`/api/connections/${id}/reset`, { body: {} });
    expect(reset.status).toBe(200);
    expect(reset.body.pool).toMatchObject({ inUse: 0 });
    const metrics = await (
      await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(
      /berth_pool_sessions\{connection_id="[^"]+",connection_name="[^"]+",state="max"\} 10/,
    );
    expect(metrics).toMatch(/berth_query_duration_seconds_count/);
    expect(metrics).toMatch(/berth_leases_active 0/);
  });

  it("streams status with WatchConnectionStatus", async () => {
    const abort = new AbortController();
    const stream = client.connections.watchConnectionStatus(
      { id: ids.postgresql!, intervalMs: 250 },
      { ...client.call, signal: abort.signal },
    );
    let seen = 0;
    try {
      for await (const s of stream) {
        expect(s.health?.connectionId).toBe(ids.postgresql);
        if (++seen === 2) break;
      }
    } catch {
      // aborting ends the stream
    }
    abort.abort();
    expect(seen).toBe(2);
  });

  it("a long watch does not pile up listeners (no MaxListeners warning over 15 updates)", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const abort = new AbortController();
    let seen = 0;
    try {
      for await (const _ of client.connections.watchConnectionStatus(
        { id: ids.postgresql!, intervalMs: 250 },
        { ...client.call, signal: abort.signal },
      )) {
        if (++seen === 15) break;
      }
    } finally {
      abort.abort();
      process.off("warning", onWarning);
    }
    expect(seen).toBe(15);
    expect(warnings).not.toContain("MaxListenersExceededWarning");
  });
});
