import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "../support/throwaway-postgres.js";

/** Debian's pgbouncer: on PATH, or in /usr/sbin (off a normal user's PATH). */
export function pgbouncerBin(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v pgbouncer"]).toString().trim();
  } catch {
    return existsSync("/usr/sbin/pgbouncer") ? "/usr/sbin/pgbouncer" : undefined;
  }
}

export interface PgBouncerOptions {
  /** PgBouncer's database name → the local PostgreSQL database it stands for (127.0.0.1:5432). */
  databases: Record<string, string>;
  /** Server connections per database/user pair (default_pool_size). */
  poolSize: number;
  maxClientConn: number;
  /** The user the readiness probe signs in as (trust: any user the server trusts). */
  probeUser: string;
}

export interface PgBouncer {
  readonly port: number;
  readonly pid: number;
  /** Resident memory of the pgbouncer process, in KiB. */
  rssKiB(): number;
  stop(): Promise<void>;
}

/**
 * PgBouncer in transaction mode in front of the local PostgreSQL (trust auth, as the server's),
 * on a free loopback port, with its files in a temp dir. PgBouncer refuses to run as root: as root
 * it is started with its own `-u postgres`, which switches user before it opens anything, so the
 * temp dir is handed to that user.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer | undefined> {
  const bin = pgbouncerBin();
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "berth-pgbouncer-"));
  const port = await freePort();
  writeConfig(dir, port, options);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    for (const f of ["", "userlist.txt", "pgbouncer.ini"]) chownSync(join(dir, f), uid, gid);
  }
  const ini = join(dir, "pgbouncer.ini");
  // Its log goes to stderr (no logfile): the last lines explain a failed start.
  const child = spawn(bin, asRoot ? ["-u", "postgres", ini] : [ini], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  const stop = () => stopChild(child, dir);
  const probeDb = Object.keys(options.databases)[0]!;
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const c = new pg.Client({ host: "127.0.0.1", port, database: probeDb, user: options.probeUser });
    try {
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
      return { port, pid: child.pid!, rssKiB: () => rssKiB(child.pid!), stop };
    } catch {
      await c.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`pgbouncer did not start: ${log.trim().split("\n").slice(-3).join(" | ")}`);
}

function writeConfig(dir: string, port: number, options: PgBouncerOptions) {
  writeFileSync(join(dir, "userlist.txt"), `"${options.probeUser}" ""\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      ...Object.entries(options.databases).map(
        ([name, db]) => `${name} = host=127.0.0.1 port=5432 dbname=${db}`,
      ),
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "auth_type = trust",
      `auth_file = ${join(dir, "userlist.txt")}`,
      "pool_mode = transaction",
      `default_pool_size = ${options.poolSize}`,
      `max_client_conn = ${options.maxClientConn}`,
      // TCP only: no socket file to place or clean up.
      "unix_socket_dir =",
      // A line per client would measure the log, not the pooler (Berth runs at log level warn).
      "log_connections = 0",
      "log_disconnections = 0",
      "",
    ].join("\n"),
  );
}

async function stopChild(child: ChildProcess, dir: string) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}
