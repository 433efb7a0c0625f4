/**
 * The data plane against the direct drivers, in one run, on this machine. Not a test: prints numbers
 * and ratios, asserts nothing.   npm run bench -- broker
 *
 * Needs the local PostgreSQL and MariaDB; PgBouncer rows need Debian's pgbouncer; the 1,000-session
 * row needs the PostgreSQL server binaries (a throwaway cluster with max_connections raised).
 */
import mysql from "mysql2/promise";
import pg from "pg";
import Cursor from "pg-cursor";
import { createBerthClient } from "../../clients/typescript/src/index.js";
import {
  BrokerService,
  type ExecuteResponse,
  type SessionResponse,
} from "../../src/gen/berth/v1/broker_service_pb.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { postgresBinDir, startThrowawayPostgres } from "../support/throwaway-postgres.js";
import { startBerthProcess } from "./berth-process.js";
import { pgbouncerBin, startPgBouncer } from "./pgbouncer-process.js";
import { percentile } from "./stats.js";

const ITERATIONS = Number(process.env.ITERATIONS ?? 3000);
const THROUGHPUT_SECONDS = Number(process.env.THROUGHPUT_SECONDS ?? 4);
const PG = { host: "127.0.0.1", port: 5432, database: "test", user: "postgres" };

type Client = ReturnType<typeof grpcJsClient>;

function row(label: string, values: (string | number)[]) {
  console.log(`  ${label.padEnd(46)} ${values.map((v) => String(v).padStart(12)).join("")}`);
}
const fmt = (n: number, digits = 3) => n.toFixed(digits);

/** A session stream over grpc-js: statements answered in order. */
async function openStream(client: Client, connectionId: string, md: Record<string, string>) {
  const call = client.bidi("session", md);
  const pending: (() => void)[] = [];
  let opened!: () => void;
  let failed!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    opened = resolve;
    failed = reject;
  });
  call.on("data", (r: SessionResponse) => {
    const e = r.event;
    if (e.case === "opened") opened();
    else if ((e.case === "result" && e.value.complete) || e.case === "error") pending.shift()?.();
  });
  call.on("error", (err: Error) => failed(err));
  call.write({ request: { case: "open", value: { connectionId } } });
  await ready;
  return {
    query(sql: string): Promise<void> {
      return new Promise((resolve) => {
        pending.push(resolve);
        call.write({ request: { case: "execute", value: { sql, params: [] } } });
      });
    },
    close() {
      call.end();
    },
  };
}

function oneShot(
  client: Client,
  connectionId: string,
  md: Record<string, string>,
  sql: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    const s = client.serverStream(
      "execute",
      { target: { case: "connectionId", value: connectionId }, statement: { sql, params: [] } },
      md,
    );
    s.on("data", (r: ExecuteResponse) => {
      rows += r.rows?.rows.length ?? 0;
    });
    s.on("end", () => resolve(rows));
    s.on("error", reject);
  });
}

async function latency(fn: () => Promise<unknown>, n = ITERATIONS): Promise<number[]> {
  for (let i = 0; i < Math.min(300, n); i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return xs;
}

async function throughput(
  clients: number,
  make: (i: number) => Promise<() => Promise<unknown>>,
): Promise<{ qps: number; errors: number }> {
  const fns = await Promise.all(Array.from({ length: clients }, (_, i) => make(i)));
  let done = 0;
  let errors = 0;
  const until = performance.now() + THROUGHPUT_SECONDS * 1000;
  await Promise.all(
    fns.map(async (fn) => {
      while (performance.now() < until) {
        try {
          await fn();
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { qps: done / THROUGHPUT_SECONDS, errors };
}

const berth = await startBerthProcess({
  BERTH_HEALTH_INTERVAL_MS: "2000",
  // Hundreds of scram sign-ins to the throwaway cluster queue behind each other on a busy 2-core
  // machine; the bench measures holding sessions, not the default 5 s bound on opening one.
  BERTH_CONNECT_TIMEOUT_MS: "60000",
});
const md = { authorization: `Bearer ${berth.token}` };
const conn = async (spec: Record<string, unknown>) =>
  (await berth.api("/api/connections", spec)).id as string;
const pg10 = await conn({
  name: "bench-pg-10",
  type: "postgresql",
  server: PG.host,
  port: PG.port,
  database: PG.database,
  username: PG.user,
  password: "",
  maxPoolSize: 10,
});
const pg64 = await conn({
  name: "bench-pg-64",
  type: "postgresql",
  server: PG.host,
  port: PG.port,
  database: PG.database,
  username: PG.user,
  password: "",
  maxPoolSize: 64,
});
const maria = await conn({
  name: "bench-maria",
  type: "mysql",
  server: "127.0.0.1",
  port: 3306,
  database: "test",
  username: "root",
  password: "",
  maxPoolSize: 10,
});
const broker = grpcJsClient(BrokerService, berth.grpcAddress);
// The TypeScript SDK (clients/typescript, its source through tsx) over its default gRPC transport.
const sdk = createBerthClient({ url: `http://${berth.grpcAddress}`, token: berth.token });
const direct10 = new pg.Pool({ ...PG, max: 10 });
const direct64 = new pg.Pool({ ...PG, max: 64 });

try {
  console.log(`\nSELECT 1 at concurrency 1 (${ITERATIONS} calls; ms)`);
  row("path", ["p50", "p99", "p50 / direct"]);
  const d = await latency(() => direct10.query("SELECT 1"));
  const stream = await openStream(broker, pg10, md);
  const s = await latency(() => stream.query("SELECT 1"));
  stream.close();
  const o = await latency(() => oneShot(broker, pg10, md, "SELECT 1"));
  const dp50 = percentile(d, 50);
  row("direct pg.Pool (10 sessions)", [fmt(dp50), fmt(percentile(d, 99)), "1.00×"]);
  row("Berth session stream (grpc-js client)", [
    fmt(percentile(s, 50)),
    fmt(percentile(s, 99)),
    `${fmt(percentile(s, 50) / dp50, 2)}×`,
  ]);
  row("Berth one-shot Execute (grpc-js client)", [
    fmt(percentile(o, 50)),
    fmt(percentile(o, 99)),
    `${fmt(percentile(o, 50) / dp50, 2)}×`,
  ]);
  const sdkS = await sdk.session(pg10, (ss) => latency(() => ss.query("SELECT 1")));
  row("SDK session (@berth/client)", [
    fmt(percentile(sdkS, 50)),
    fmt(percentile(sdkS, 99)),
    `${fmt(percentile(sdkS, 50) / dp50, 2)}×`,
  ]);
  const sdkQ = await latency(() => sdk.query(pg10, "SELECT 1"));
  row("SDK query (@berth/client, one-shot Execute)", [
    fmt(percentile(sdkQ, 50)),
    fmt(percentile(sdkQ, 99)),
    `${fmt(percentile(sdkQ, 50) / dp50, 2)}×`,
  ]);

  console.log(`\nThroughput, 64 concurrent clients, SELECT 1 (${THROUGHPUT_SECONDS} s each; queries/s)`);
  row("path", ["queries/s", "errors", "vs direct"]);
  const t10 = await throughput(64, async () => () => direct10.query("SELECT 1"));
  row("direct pg.Pool (10 sessions)", [Math.round(t10.qps), t10.errors, "1.00×"]);
  const t64 = await throughput(64, async () => () => direct64.query("SELECT 1"));
  row("direct pg.Pool (64 sessions)", [Math.round(t64.qps), t64.errors, `${fmt(t64.qps / t10.qps, 2)}×`]);
  // Free its 64 server sessions: PostgreSQL's default max_connections (100) cannot hold both.
  await direct64.end();
  const streams: Awaited<ReturnType<typeof openStream>>[] = [];
  const ts = await throughput(64, async () => {
    const st = await openStream(broker, pg64, md);
    streams.push(st);
    return () => st.query("SELECT 1");
  });
  for (const st of streams) st.close();
  row("Berth session streams (64 leases, pool 64)", [
    Math.round(ts.qps),
    ts.errors,
    `${fmt(ts.qps / t10.qps, 2)}×`,
  ]);
  const to = await throughput(64, async () => () => oneShot(broker, pg10, md, "SELECT 1"));
  row("Berth one-shot Execute (pool 10)", [Math.round(to.qps), to.errors, `${fmt(to.qps / t10.qps, 2)}×`]);
  // Each SDK session holds its lease until the throughput loop has ended.
  let endSessions!: () => void;
  const sessionsEnd = new Promise<void>((r) => {
    endSessions = r;
  });
  const held: Promise<unknown>[] = [];
  const tsdk = await throughput(
    64,
    (_i) =>
      new Promise<() => Promise<unknown>>((resolve, reject) => {
        held.push(
          sdk
            .session(pg64, async (ss) => {
              resolve(() => ss.query("SELECT 1"));
              await sessionsEnd;
            })
            .catch(reject),
        );
      }),
  );
  endSessions();
  await Promise.all(held);
  row("SDK sessions (64 leases, pool 64)", [
    Math.round(tsdk.qps),
    tsdk.errors,
    `${fmt(tsdk.qps / t10.qps, 2)}×`,
  ]);
  const tq = await throughput(64, async () => () => sdk.query(pg10, "SELECT 1"));
  row("SDK query (one-shot, pool 10)", [Math.round(tq.qps), tq.errors, `${fmt(tq.qps / t10.qps, 2)}×`]);
  const bouncer = await startPgBouncer({
    databases: { test: PG.database },
    poolSize: 10,
    maxClientConn: 2000,
    probeUser: PG.user,
  }).catch((err: Error) => console.log(`  PgBouncer: ${err.message}`));
  if (bouncer) {
    const viaBouncer = new pg.Pool({ ...PG, port: bouncer.port, max: 64 });
    const tb = await throughput(64, async () => () => viaBouncer.query("SELECT 1"));
    row("PgBouncer (transaction mode, pool 10)", [
      Math.round(tb.qps),
      tb.errors,
      `${fmt(tb.qps / t10.qps, 2)}×`,
    ]);
    await viaBouncer.end();
    await bouncer.stop();
  } else if (!pgbouncerBin()) {
    console.log("  PgBouncer: skipped (install Debian's pgbouncer package)");
  }

  console.log("\n1,000 concurrent clients multiplexed over one pool of 10 (5 one-shot SELECT 1 each)");
  const channels = Array.from({ length: 8 }, () => grpcJsClient(BrokerService, berth.grpcAddress));
  let peak = berth.rssMiB();
  const sampler = setInterval(() => {
    peak = Math.max(peak, berth.rssMiB());
  }, 50);
  const rssBefore = berth.rssMiB();
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      for (let k = 0; k < 5; k++) {
        try {
          await oneShot(channels[i % channels.length]!, pg10, md, "SELECT 1");
          ok++;
        } catch {
          failed++;
        }
      }
    }),
  );
  clearInterval(sampler);
  for (const c of channels) c.close();
  row("calls ok / failed", [ok, failed]);
  row("wall time (s)", [fmt((performance.now() - t0) / 1000, 2)]);
  row("Berth RSS before / peak (MiB)", [fmt(rssBefore, 1), fmt(peak, 1)]);

  console.log("\nStreaming 100,000 rows (rows/s)");
  row("path", ["rows/s", "vs direct"]);
  const STREAM_SQL = "SELECT g, md5(g::text) FROM generate_series(1, 100000) g";
  let t = performance.now();
  const c = await direct10.connect();
  const cursor = c.query(new Cursor(STREAM_SQL));
  let n = 0;
  for (let batch = await cursor.read(1000); batch.length > 0; batch = await cursor.read(1000))
    n += batch.length;
  await cursor.close();
  c.release();
  const directRate = n / ((performance.now() - t) / 1000);
  row("direct pg cursor (1,000-row reads)", [Math.round(directRate), "1.00×"]);
  t = performance.now();
  n = await oneShot(broker, pg10, md, STREAM_SQL);
  const berthRate = n / ((performance.now() - t) / 1000);
  row("Berth Execute stream (grpc-js client)", [Math.round(berthRate), `${fmt(berthRate / directRate, 2)}×`]);

  console.log("\nMariaDB: SELECT 1 at concurrency 1 (ms) and streaming 100,000 rows");
  const mpool = mysql.createPool({
    host: "127.0.0.1",
    port: 3306,
    user: "root",
    database: "test",
    connectionLimit: 10,
  });
  const md1 = await latency(() => mpool.query("SELECT 1"));
  const mstream = await openStream(broker, maria, md);
  const ms1 = await latency(() => mstream.query("SELECT 1"));
  mstream.close();
  const mo1 = await latency(() => oneShot(broker, maria, md, "SELECT 1"));
  row("path", ["p50", "p99", "p50 / direct"]);
  row("direct mysql2 pool", [fmt(percentile(md1, 50)), fmt(percentile(md1, 99)), "1.00×"]);
  row("Berth session stream", [
    fmt(percentile(ms1, 50)),
    fmt(percentile(ms1, 99)),
    `${fmt(percentile(ms1, 50) / percentile(md1, 50), 2)}×`,
  ]);
  row("Berth one-shot Execute", [
    fmt(percentile(mo1, 50)),
    fmt(percentile(mo1, 99)),
    `${fmt(percentile(mo1, 50) / percentile(md1, 50), 2)}×`,
  ]);
  const M_SQL = "SELECT seq, md5(seq) FROM seq_1_to_100000";
  t = performance.now();
  n = 0;
  const mconn = await mpool.getConnection();
  await new Promise<void>((resolve, reject) => {
    const st = (mconn.connection as unknown as import("mysql2").Connection).query(M_SQL).stream();
    st.on("data", () => n++);
    st.on("end", resolve);
    st.on("error", reject);
  });
  mconn.release();
  const mDirect = n / ((performance.now() - t) / 1000);
  t = performance.now();
  n = await oneShot(broker, maria, md, M_SQL);
  const mBerth = n / ((performance.now() - t) / 1000);
  row("direct mysql2 stream (rows/s)", [Math.round(mDirect), "1.00×"]);
  row("Berth Execute stream (rows/s)", [Math.round(mBerth), `${fmt(mBerth / mDirect, 2)}×`]);
  await mpool.end();

  if (postgresBinDir()) {
    console.log(
      "\n1,000 database sessions held open across 10 pools (throwaway PostgreSQL, max_connections 1100)",
    );
    const big = await startThrowawayPostgres({
      password: "bench-pw-1234",
      conf: ["max_connections=1100", "shared_buffers=128MB"],
    });
    try {
      const rss0 = berth.rssMiB();
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        ids.push(
          await conn({
            name: `many-${i}`,
            type: "postgresql",
            server: big.host,
            port: big.port,
            database: "postgres",
            username: "postgres",
            password: big.password,
            maxPoolSize: 100,
            acquireTimeoutMs: 60000,
          }),
        );
      }
      const t1 = performance.now();
      // Opened 32 at a time: a thousand simultaneous scram sign-ins would exceed the connect bound
      // on a 2-core machine (the server, not Berth, is the bottleneck there).
      const targets = ids.flatMap((id) => Array.from({ length: 100 }, () => id));
      const leases: { lease: { id: string } }[] = [];
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let id = targets.pop(); id; id = targets.pop()) {
            leases.push(
              await broker.unary<{ lease: { id: string } }>(
                "acquireLease",
                { connectionId: id, idleTtlMs: 600000 },
                md,
              ),
            );
          }
        }),
      );
      const openSecs = (performance.now() - t1) / 1000;
      const serverSide = Number(
        await big.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'berth'"),
      );
      const rss1 = berth.rssMiB();
      const cpu0 = berth.cpuSeconds();
      await new Promise((r) => setTimeout(r, 10_000));
      const cpu1 = berth.cpuSeconds();
      row("leases held / server sessions", [leases.length, serverSide]);
      row("time to open them (s)", [fmt(openSecs, 2)]);
      row("Berth RSS before / holding (MiB)", [fmt(rss0, 1), fmt(rss1, 1)]);
      row("per held session (KiB)", [fmt(((rss1 - rss0) * 1024) / leases.length, 1)]);
      row("Berth CPU while idle, health every 2 s (%)", [fmt(((cpu1 - cpu0) / 10) * 100, 2)]);
      await Promise.all(leases.map((l) => broker.unary("releaseLease", { leaseId: l.lease.id }, md)));
    } finally {
      await big.destroy();
    }
  }
} finally {
  broker.close();
  sdk.close();
  await direct10.end();
  await direct64.end().catch(() => {});
  await berth.stop();
}
