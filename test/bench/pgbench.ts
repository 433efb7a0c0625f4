import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { onCleanup } from "./cleanup.js";

/** Where pgbench connects: a PostgreSQL server, PgBouncer or Berth's front door. */
export interface PgbenchTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
}

export type QueryMode = "simple" | "extended" | "prepared";

export interface PgbenchCell {
  readonly clients: number;
  readonly threads: number;
  readonly mode: QueryMode;
  readonly seconds: number;
  /** Keep every transaction's latency (pgbench --log), for percentiles. */
  readonly latencies?: boolean;
}

export type PgbenchResult =
  | { ok: true; tps: number; latenciesUs: number[] }
  | { ok: false; error: string; tps?: number };

/**
 * One `pgbench -S` run as a child process (the bench's own event loop only waits). A run that
 * fails — refused connection, an aborted client (PgBouncer 1.18 and `-M prepared`), a hang — is a
 * result with the reason, not an exception: the other cells still run.
 */
export async function runPgbench(target: PgbenchTarget, cell: PgbenchCell): Promise<PgbenchResult> {
  const logDir = cell.latencies ? await mkdtemp(join(tmpdir(), "berth-pgbench-")) : undefined;
  const removeLogDir = onCleanup(() => logDir && rm(logDir, { recursive: true, force: true }));
  try {
    const args = [
      ...["-h", target.host, "-p", String(target.port), "-U", target.user],
      ...["-S", "-n", "-M", cell.mode, "-T", String(cell.seconds)],
      ...["-c", String(cell.clients), "-j", String(cell.threads)],
      ...(logDir ? ["--log", `--log-prefix=${join(logDir, "tx")}`] : []),
      target.database,
    ];
    const run = await runChild("pgbench", args, target, (cell.seconds + 30) * 1000);
    const tps = /^tps = ([\d.]+)/m.exec(run.stdout);
    if (run.code !== 0 || !tps) {
      return {
        ok: false,
        error: firstError(run.stderr, cell.clients) ?? `exit ${run.code}`,
        tps: tps ? Number(tps[1]) : undefined,
      };
    }
    return { ok: true, tps: Number(tps[1]), latenciesUs: logDir ? await readLatencies(logDir) : [] };
  } finally {
    await removeLogDir();
  }
}

/** `pgbench_log` lines are "client tx latency_us script epoch_s epoch_us" (one file per thread). */
async function readLatencies(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const f of await readdir(dir)) {
    for (const line of (await readFile(join(dir, f), "utf8")).split("\n")) {
      const us = Number(line.split(" ")[2]);
      if (line && Number.isFinite(us)) out.push(us);
    }
  }
  return out;
}

/**
 * Why, short enough for a table cell: how many clients aborted and the first one's reason (pgbench
 * lets the others run on), else the first line that reads like an error, without pgbench's prefixes.
 */
function firstError(stderr: string, clients: number): string | undefined {
  const lines = stderr.split("\n");
  const aborted = lines.filter((l) => /client \d+ script \d+ aborted/.test(l));
  const line = aborted.length
    ? `${aborted.length} of ${clients} clients aborted: ${aborted[0]!.replace(/^.*aborted in command \d+ query \d+: /, "")}`
    : lines.find((l) => /error|fatal|failed|timed out/i.test(l))?.replace(/^pgbench: (error: )?/, "");
  const short = line?.replace(/\s+/g, " ");
  return short && short.length > 140 ? `${short.slice(0, 137)}...` : short;
}

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runChild(cmd: string, args: string[], target: PgbenchTarget, timeoutMs: number): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: {
        ...process.env,
        PGPASSWORD: target.password ?? "",
        PGCONNECT_TIMEOUT: "10",
        PGSSLMODE: "disable",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stop = onCleanup(() => child.kill("SIGKILL"));
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr!.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-20_000);
    });
    const timer = setTimeout(() => {
      stderr = `timed out after ${timeoutMs / 1000} s\n${stderr}`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      stderr = `failed to start ${cmd}: ${err.message}\n${stderr}`;
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      void stop().catch(() => {});
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The bench database in the local PostgreSQL, `pgbench -i` at the given scale: kept when it is
 * already there at that scale (pgbench_branches holds one row per scale unit), made otherwise.
 */
export async function ensureBenchDatabase(database: string, scale: number): Promise<void> {
  const admin = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await db.connect();
  let branches = -1;
  try {
    branches = Number((await db.query("SELECT count(*) AS n FROM pgbench_branches")).rows[0].n);
  } catch {
    // not initialised yet
  } finally {
    await db.end();
  }
  if (branches === scale) return;
  const target = { host: "127.0.0.1", port: 5432, user: "postgres", database };
  const init = await runChild("pgbench", ["-i", "-q", "-s", String(scale), ...conn(target)], target, 300_000);
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr.trim()}`);
}

function conn(t: PgbenchTarget): string[] {
  return ["-h", t.host, "-p", String(t.port), "-U", t.user, t.database];
}
