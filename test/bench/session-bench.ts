/**
 * The session stream and the TypeScript SDK beside the direct pg.Pool, in one run: SELECT 1 at
 * concurrency 1 (p50) and 64 concurrent clients (queries/s), over the grpc-js client (the broker
 * bench's raw stream) and over the SDK's `session` and `query`. PROFILE=1 runs Berth under
 * `--cpu-prof` (written to PROFILE_DIR, default /tmp/berth-session-profile) and prints Berth's CPU
 * per session statement.   npm run bench -- session
 */
import pg from "pg";
import { createBerthClient } from "../../clients/typescript/src/index.js";
import { BrokerService, type SessionResponse } from "../../src/gen/berth/v1/broker_service_pb.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { startBerthProcess } from "./berth-process.js";
import { percentile } from "./stats.js";

const ITERATIONS = Number(process.env.ITERATIONS ?? 3000);
const THROUGHPUT_SECONDS = Number(process.env.THROUGHPUT_SECONDS ?? 4);
const CLIENTS = 64;
const PROFILE = process.env.PROFILE === "1";
const PROFILE_DIR = process.env.PROFILE_DIR ?? "/tmp/berth-session-profile";
const PG = { host: "127.0.0.1", port: 5432, database: "test", user: "postgres" };

const berth = await startBerthProcess(
  { BERTH_HEALTH_INTERVAL_MS: "2000" },
  PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
);
const md = { authorization: `Bearer ${berth.token}` };
const pool = (name: string, maxPoolSize: number) =>
  berth
    .api("/api/connections", {
      name,
      type: "postgresql",
      server: PG.host,
      port: PG.port,
      database: PG.database,
      username: PG.user,
      password: "",
      maxPoolSize,
    })
    .then((r) => r.id as string);
const pg10 = await pool("session-bench-10", 10);
const pg64 = await pool("session-bench-64", CLIENTS);
const raw = grpcJsClient(BrokerService, berth.grpcAddress);
const sdk = createBerthClient({ url: `http://${berth.grpcAddress}`, token: berth.token });

type Query = () => Promise<unknown>;

/** The broker bench's raw session stream over grpc-js: statements answered in order. */
async function rawStream(connectionId: string) {
  const call = raw.bidi("session", md);
  const pending: (() => void)[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    call.on("data", (r: SessionResponse) => {
      const e = r.event;
      if (e.case === "opened") resolve();
      else if ((e.case === "result" && e.value.complete) || e.case === "error") pending.shift()?.();
    });
    call.on("error", reject);
  });
  call.write({ request: { case: "open", value: { connectionId } } });
  await opened;
  const query: Query = () =>
    new Promise<void>((resolve) => {
      pending.push(resolve);
      call.write({ request: { case: "execute", value: { sql: "SELECT 1", params: [] } } });
    });
  return { query, close: () => call.end() };
}

async function latency(fn: Query): Promise<number[]> {
  for (let i = 0; i < Math.min(300, ITERATIONS); i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return xs;
}

/** Queries/s of `clients` loops, each running `fn` (given its own query) until the time is up. */
async function throughput(run: (loop: (q: Query) => Promise<void>) => Promise<unknown>): Promise<number> {
  let done = 0;
  let until = Number.POSITIVE_INFINITY;
  let started = 0;
  let go!: () => void;
  const allReady = new Promise<void>((r) => {
    go = r;
  });
  const loop = async (q: Query) => {
    if (++started === CLIENTS) {
      until = performance.now() + THROUGHPUT_SECONDS * 1000;
      go();
    }
    await allReady;
    while (performance.now() < until) {
      await q();
      done++;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, () => run(loop)));
  return done / THROUGHPUT_SECONDS;
}

const row = (label: string, values: (string | number)[]) =>
  console.log(`  ${label.padEnd(40)} ${values.map((v) => String(v).padStart(14)).join("")}`);
const ms = (n: number) => n.toFixed(3);
const times = (n: number) => `${n.toFixed(2)}×`;

const direct10 = new pg.Pool({ ...PG, max: 10 });
try {
  console.log(`\nSELECT 1 at concurrency 1 (${ITERATIONS} calls; ms)`);
  row("path", ["p50", "p99", "p50 / direct"]);
  const d = await latency(() => direct10.query("SELECT 1"));
  const dp50 = percentile(d, 50);
  const latencyRow = (label: string, xs: number[]) =>
    row(label, [ms(percentile(xs, 50)), ms(percentile(xs, 99)), times(percentile(xs, 50) / dp50)]);
  latencyRow("direct pg.Pool (10 sessions)", d);
  const st = await rawStream(pg10);
  const cpu0 = berth.cpuSeconds();
  const s = await latency(st.query);
  const cpuPerStatement = ((berth.cpuSeconds() - cpu0) * 1000) / (ITERATIONS + Math.min(300, ITERATIONS));
  st.close();
  latencyRow("session stream (grpc-js client)", s);
  latencyRow("SDK session", await sdk.session(pg10, (ss) => latency(() => ss.query("SELECT 1"))));
  latencyRow("SDK query (one-shot Execute)", await latency(() => sdk.query(pg10, "SELECT 1")));
  console.log(`  Berth CPU per session statement: ${cpuPerStatement.toFixed(3)} ms`);

  console.log(
    `\nThroughput, ${CLIENTS} concurrent clients, SELECT 1 (${THROUGHPUT_SECONDS} s each; queries/s)`,
  );
  row("path", ["queries/s", "vs direct 10"]);
  const t10 = await throughput((loop) => loop(() => direct10.query("SELECT 1")));
  row("direct pg.Pool (10 sessions)", [Math.round(t10), times(1)]);
  const direct64 = new pg.Pool({ ...PG, max: CLIENTS });
  const t64 = await throughput((loop) => loop(() => direct64.query("SELECT 1")));
  row(`direct pg.Pool (${CLIENTS} sessions)`, [Math.round(t64), times(t64 / t10)]);
  // Frees its sessions: PostgreSQL's default max_connections (100) cannot hold both pools.
  await direct64.end();
  const ts = await throughput(async (loop) => {
    const stream = await rawStream(pg64);
    await loop(stream.query);
    stream.close();
  });
  row(`session streams (grpc-js, pool ${CLIENTS})`, [Math.round(ts), times(ts / t10)]);
  const tsdk = await throughput((loop) => sdk.session(pg64, (ss) => loop(() => ss.query("SELECT 1"))));
  row(`SDK sessions (pool ${CLIENTS})`, [Math.round(tsdk), times(tsdk / t10)]);
  const tq = await throughput((loop) => loop(() => sdk.query(pg10, "SELECT 1")));
  row("SDK query (one-shot, pool 10)", [Math.round(tq), times(tq / t10)]);
  if (PROFILE) console.log(`\nBerth CPU profile: ${PROFILE_DIR}`);
} finally {
  raw.close();
  sdk.close();
  await direct10.end();
  await berth.stop();
}
