/**
 * The session stream and the TypeScript SDK beside the direct pg.Pool, in one run: SELECT 1 at
 * concurrency 1 (p50) and 64 concurrent clients (queries/s), over the grpc-js client (the broker
 * bench's raw stream) and over the SDK's `session` and `query`. PROFILE=1 runs Berth under
 * `--cpu-prof` (written to PROFILE_DIR, default /tmp/berth-session-profile) and prints Berth's CPU
 * per session statement.   npm run bench -- session
 */
import { spawn } from "node:child_process";
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
// SESSION_ONLY=1: only the grpc-js session stream rows (a profile of the session path alone).
const SESSION_ONLY = process.env.SESSION_ONLY === "1";
const PROFILE_DIR = process.env.PROFILE_DIR ?? "/tmp/berth-session-profile";
const PG = { host: "127.0.0.1", port: 5432, database: "test", user: "postgres" };

// BASELINE_MAIN=<path to another build's main.js>: that build is measured too, in the same run.
const BUILDS: [string, string][] = [
  ...(process.env.BASELINE_MAIN ? [["baseline", process.env.BASELINE_MAIN] as [string, string]] : []),
  ["this build", "dist/main.js"],
];

type Query = () => Promise<unknown>;

/** The broker bench's raw session stream over grpc-js: statements answered in order. */
async function rawStream(
  raw: ReturnType<typeof grpcJsClient>,
  md: Record<string, string>,
  connectionId: string,
) {
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
  console.log(`  ${label.padEnd(48)} ${values.map((v) => String(v).padStart(14)).join("")}`);
const ms = (n: number) => n.toFixed(3);
const times = (n: number) => `${n.toFixed(2)}×`;

/** One Berth build's rows, beside the direct numbers measured once before. */
async function measureBuild(name: string, main: string, dp50: number, t10: number) {
  const berth = await startBerthProcess(
    { BERTH_HEALTH_INTERVAL_MS: "2000" },
    PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    main,
  );
  const md = { authorization: `Bearer ${berth.token}` };
  const pool = (label: string, maxPoolSize: number) =>
    berth
      .api("/api/connections", {
        name: label,
        type: "postgresql",
        server: PG.host,
        port: PG.port,
        database: PG.database,
        username: PG.user,
        password: "",
        maxPoolSize,
      })
      .then((r) => r.id as string);
  const raw = grpcJsClient(BrokerService, berth.grpcAddress);
  const sdk = createBerthClient({ url: `http://${berth.grpcAddress}`, token: berth.token });
  const latencyRow = (label: string, xs: number[]) =>
    row(`${label} [${name}]`, [
      ms(percentile(xs, 50)),
      ms(percentile(xs, 99)),
      times(percentile(xs, 50) / dp50),
    ]);
  try {
    const pg10 = await pool("session-bench-10", 10);
    const pg64 = await pool("session-bench-64", CLIENTS);
    const st = await rawStream(raw, md, pg10);
    // STRACE=<file>: Berth's system calls during the session loop, counted (strace -c).
    const strace = process.env.STRACE
      ? spawn("strace", ["-f", "-c", "-o", process.env.STRACE, "-p", String(berth.pid)], { stdio: "ignore" })
      : undefined;
    if (strace) await new Promise((r) => setTimeout(r, 1000));
    const cpu0 = berth.cpuSeconds();
    const s = await latency(st.query);
    const cpuPerStatement = ((berth.cpuSeconds() - cpu0) * 1000) / (ITERATIONS + Math.min(300, ITERATIONS));
    if (strace) {
      const done = new Promise((r) => strace.once("exit", r));
      strace.kill("SIGINT");
      await done;
    }
    st.close();
    latencyRow("session stream (grpc-js)", s);
    if (!SESSION_ONLY) {
      latencyRow("SDK session", await sdk.session(pg10, (ss) => latency(() => ss.query("SELECT 1"))));
      latencyRow("SDK query (one-shot)", await latency(() => sdk.query(pg10, "SELECT 1")));
    }
    const ts = await throughput(async (loop) => {
      const stream = await rawStream(raw, md, pg64);
      await loop(stream.query);
      stream.close();
    });
    row(`${CLIENTS} session streams (grpc-js) [${name}]`, ["", "", times(ts / t10), Math.round(ts)]);
    if (!SESSION_ONLY) {
      const tsdk = await throughput((loop) => sdk.session(pg64, (ss) => loop(() => ss.query("SELECT 1"))));
      row(`${CLIENTS} SDK sessions [${name}]`, ["", "", times(tsdk / t10), Math.round(tsdk)]);
      const tq = await throughput((loop) => loop(() => sdk.query(pg10, "SELECT 1")));
      row(`${CLIENTS} SDK query, pool 10 [${name}]`, ["", "", times(tq / t10), Math.round(tq)]);
    }
    row(`Berth CPU per session statement, ms [${name}]`, [cpuPerStatement.toFixed(3)]);
  } finally {
    raw.close();
    sdk.close();
    await berth.stop();
  }
}

const direct10 = new pg.Pool({ ...PG, max: 10 });
try {
  console.log(
    `\nSELECT 1: concurrency 1 (${ITERATIONS} calls; ms) and ${CLIENTS} concurrent clients (${THROUGHPUT_SECONDS} s; queries/s)`,
  );
  row("path", ["p50", "p99", "vs direct", "queries/s"]);
  const d = await latency(() => direct10.query("SELECT 1"));
  const dp50 = percentile(d, 50);
  row("direct pg.Pool (10 sessions)", [ms(dp50), ms(percentile(d, 99)), times(1)]);
  const t10 = await throughput((loop) => loop(() => direct10.query("SELECT 1")));
  row(`${CLIENTS} clients, direct pg.Pool (10 sessions)`, ["", "", times(1), Math.round(t10)]);
  const direct64 = new pg.Pool({ ...PG, max: CLIENTS });
  const t64 = await throughput((loop) => loop(() => direct64.query("SELECT 1")));
  row(`${CLIENTS} clients, direct pg.Pool (${CLIENTS} sessions)`, [
    "",
    "",
    times(t64 / t10),
    Math.round(t64),
  ]);
  // Frees its sessions: PostgreSQL's default max_connections (100) cannot hold these and Berth's.
  await direct64.end();
  for (const [name, main] of BUILDS) await measureBuild(name, main, dp50, t10);
  if (PROFILE) console.log(`\nBerth CPU profiles: ${PROFILE_DIR}`);
} finally {
  await direct10.end();
}
