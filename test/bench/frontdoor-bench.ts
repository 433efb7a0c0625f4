/**
 * Berth's PostgreSQL front door (issue 12, "Speed") against the local PostgreSQL directly and
 * PgBouncer, in one run, on this machine. Not a test: prints numbers and ratios, asserts nothing.
 *
 *   npm run bench:frontdoor        (or: npm run bench -- frontdoor)
 *
 * Needs the local PostgreSQL (127.0.0.1:5432, trust), Debian's pgbench and pgbouncer. A target that
 * cannot be reached or fails a cell is reported in that cell; the other targets still run.
 *
 * Environment (defaults in brackets):
 *   BENCH_SECONDS [5]         duration of each pgbench cell
 *   BENCH_CLIENTS [1,16,64]   pgbench -c values
 *   BENCH_MODES   [simple,extended,prepared]
 *   BENCH_THREADS [2]         most pgbench threads (-j is min(clients, this)); see README
 *   BENCH_IDLE_CLIENTS [10000] idle clients held open for the memory measurement (0: skip it)
 */
import { execFileSync } from "node:child_process";
import { freePort } from "../support/throwaway-postgres.js";
import { BENCH_ADMIN_PASSWORD, startBerthProcess } from "./berth-process.js";
import { cleanUp, onCleanup } from "./cleanup.js";
import {
  type IdleResult,
  printIdle,
  printLatency,
  printThroughput,
  type Results,
} from "./frontdoor-report.js";
import { openIdleClients } from "./pg-idle-clients.js";
import { ensureBenchDatabase, type PgbenchTarget, type QueryMode, runPgbench } from "./pgbench.js";
import { rssKiB, startPgBouncer } from "./pgbouncer-process.js";

const DATABASE = "berth_bench";
const POOL_SIZE = 10;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = (process.env.BENCH_CLIENTS ?? "1,16,64").split(",").map(Number);
const MODES = (process.env.BENCH_MODES ?? "simple,extended,prepared").split(",") as QueryMode[];
const MAX_THREADS = Number(process.env.BENCH_THREADS ?? 2);
const IDLE_CLIENTS = Number(process.env.BENCH_IDLE_CLIENTS ?? 10_000);

/** A target to measure, or why it cannot be (every cell of it then says so). */
export interface Target {
  readonly label: string;
  readonly pg?: PgbenchTarget;
  /** The process whose RSS the idle-client measurement reads. */
  readonly pid?: number;
  readonly unavailable?: string;
}

const direct: Target = {
  label: "direct",
  pg: { host: "127.0.0.1", port: 5432, user: "postgres", database: DATABASE },
};

async function pgbouncerTarget(): Promise<Target> {
  try {
    const b = await startPgBouncer({
      databases: { [DATABASE]: DATABASE },
      poolSize: POOL_SIZE,
      maxClientConn: IDLE_CLIENTS + 200,
      probeUser: "postgres",
    });
    if (!b) return { label: "PgBouncer", unavailable: "pgbouncer is not installed" };
    onCleanup(() => b.stop());
    return { label: "PgBouncer", pid: b.pid, pg: { ...direct.pg!, port: b.port } };
  } catch (err) {
    return { label: "PgBouncer", unavailable: (err as Error).message };
  }
}

/** Berth with its front door on a free port, and a connection named like the bench database. */
async function berthTarget(): Promise<Target> {
  try {
    const pgPort = await freePort();
    const berth = await startBerthProcess({
      BERTH_PG_PORT: String(pgPort),
      // 10,000 idle clients all come from 127.0.0.1, beside pgbench's.
      BERTH_PG_MAX_CLIENTS: String(IDLE_CLIENTS + 200),
      BERTH_PG_MAX_CLIENTS_PER_SOURCE: String(IDLE_CLIENTS + 200),
    });
    onCleanup(() => berth.stop());
    await berth.api("/api/connections", {
      name: DATABASE,
      type: "postgresql",
      server: "127.0.0.1",
      port: 5432,
      database: DATABASE,
      username: "postgres",
      password: "",
      maxPoolSize: POOL_SIZE,
    });
    return {
      label: "Berth",
      pid: berth.pid,
      pg: {
        host: "127.0.0.1",
        port: pgPort,
        user: "admin",
        password: BENCH_ADMIN_PASSWORD,
        database: DATABASE,
      },
    };
  } catch (err) {
    return { label: "Berth", unavailable: (err as Error).message };
  }
}

/** Every cell, targets interleaved within a cell so that drift of a shared machine hits them alike. */
async function measure(targets: Target[]): Promise<Results> {
  const results: Results = new Map();
  for (const t of targets) {
    results.set(t.label, new Map());
    // Opens the pools (Berth's, PgBouncer's) before anything is timed.
    if (t.pg) await runPgbench(t.pg, { clients: POOL_SIZE, threads: 1, mode: "simple", seconds: 1 });
  }
  for (const mode of MODES) {
    for (const clients of CLIENTS) {
      const threads = Math.min(clients, MAX_THREADS);
      for (const t of targets) {
        const r = t.pg
          ? await runPgbench(t.pg, { clients, threads, mode, seconds: SECONDS, latencies: clients === 1 })
          : { ok: false as const, error: t.unavailable! };
        results.get(t.label)!.set(`${mode}/${clients}`, r);
        process.stderr.write(
          `  ${mode.padEnd(8)} -c ${String(clients).padEnd(3)} ${t.label}: ${r.ok ? Math.round(r.tps) : r.error}\n`,
        );
      }
    }
  }
  return results;
}

/** What holding IDLE_CLIENTS signed-in, silent clients costs the target process, in RSS. */
async function idleCost(t: Target, count: number): Promise<IdleResult> {
  if (!t.pg || !t.pid) return { label: t.label, error: t.unavailable ?? "no process to measure" };
  const before = rssKiB(t.pid);
  const clients = await openIdleClients({ ...t.pg, password: t.pg.password ?? "" }, count);
  const undo = onCleanup(() => clients.close());
  try {
    const atReady = rssKiB(t.pid);
    // Then idle for a while: what stays resident, and whether the server drops idle clients.
    await new Promise((r) => setTimeout(r, 5000));
    return {
      label: t.label,
      ready: clients.ready,
      failed: clients.failed,
      firstError: clients.firstError,
      dropped: clients.dropped(),
      beforeKiB: before,
      atReadyKiB: atReady,
      idleKiB: rssKiB(t.pid),
    };
  } finally {
    await undo();
  }
}

/**
 * How many idle clients fit: the bench holds one descriptor per client and the server one more, and
 * both are Node or PgBouncer processes started from here with this process's limit (Node raises its
 * soft limit to the hard one at start, so `ulimit -Hn` is what counts).
 */
function idleClientCount(): number {
  const limit = Number(execFileSync("sh", ["-c", "ulimit -Sn"]).toString().trim());
  if (!Number.isFinite(limit) || limit - 1000 >= IDLE_CLIENTS) return IDLE_CLIENTS;
  console.log(`
open-file limit ${limit}: ${limit - 1000} idle clients instead of ${IDLE_CLIENTS} (raise ulimit -Hn)`);
  return Math.max(0, limit - 1000);
}

try {
  await ensureBenchDatabase(DATABASE, 1);
  const targets = [direct, await pgbouncerTarget(), await berthTarget()];
  console.log(
    `\npgbench -S (select-only, scale 1) on ${DATABASE}: ${SECONDS} s per cell, -j min(clients, ${MAX_THREADS}); ` +
      `PgBouncer and Berth pool ${POOL_SIZE} (transaction pooling)`,
  );
  const results = await measure(targets);
  printThroughput(
    results,
    MODES,
    CLIENTS,
    targets.map((t) => t.label),
  );
  printLatency(
    results,
    MODES,
    targets.map((t) => t.label),
  );
  const idleCount = IDLE_CLIENTS > 0 ? idleClientCount() : 0;
  if (idleCount > 0) {
    const idle: IdleResult[] = [];
    // Berth first: its number is the one the issue sets an aim for.
    for (const t of [targets[2]!, targets[1]!]) idle.push(await idleCost(t, idleCount));
    printIdle(idle, idleCount);
  }
} finally {
  await cleanUp();
}
