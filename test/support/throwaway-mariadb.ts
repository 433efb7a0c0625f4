import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chownSync, copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { freePort } from "./throwaway-postgres.js";

const run = promisify(execFile);
const MARIADBD = "/usr/sbin/mariadbd";

export function hasMariadbBinaries(): boolean {
  return existsSync(MARIADBD) && process.getuid?.() === 0;
}

export interface ThrowawayMariadb {
  readonly port: number;
  /** Runs SQL as root (no password, over TCP from 127.0.0.1). */
  sql(statement: string): Promise<void>;
  /** Runs a query as root and answers its rows. */
  rows(statement: string): Promise<Record<string, unknown>[]>;
  /** Stops the server: SIGKILL for a crash, SIGTERM for a clean shutdown. */
  stop(signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** Starts it again on the same data directory and port, with the same options. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A MariaDB server of its own (mariadb-install-db, then mariadbd on a free port, about a second),
 * for tests that need server settings the shared one does not have: TLS with a test certificate.
 */
export async function startThrowawayMariadb(
  options: { tls?: { cert: string; key: string; ca: string }; args?: string[] } = {},
): Promise<ThrowawayMariadb> {
  const dir = mkdtempSync(join(tmpdir(), "berth-mariadb-"));
  const uid = Number((await run("id", ["-u", "mysql"])).stdout);
  const gid = Number((await run("id", ["-g", "mysql"])).stdout);
  chownSync(dir, uid, gid);
  const install = () =>
    run("mariadb-install-db", [
      "--no-defaults",
      "--user=mysql",
      `--datadir=${join(dir, "data")}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ]);
  try {
    await install();
  } catch (first) {
    // Seen once under heavy parallel load: a bootstrap that gave up. Once more, from scratch, and
    // if that fails too, the tool's own words.
    rmSync(join(dir, "data"), { recursive: true, force: true });
    await install().catch((err: { stderr?: string; stdout?: string }) => {
      throw new Error(
        `mariadb-install-db failed twice: ${String((first as { stderr?: string }).stderr ?? first).slice(0, 500)} / ${String(err.stderr ?? err.stdout ?? err).slice(0, 500)}`,
      );
    });
  }
  const tlsArgs: string[] = [];
  if (options.tls) {
    // The server reads its key as the mysql user: give it copies it owns.
    for (const [name, from] of Object.entries(options.tls)) {
      const to = join(dir, `${name}.pem`);
      copyFileSync(from, to);
      chownSync(to, uid, gid);
      tlsArgs.push(`--ssl-${name}=${to}`);
    }
  }
  const port = await freePort();
  const args = [
    "--no-defaults",
    "--user=mysql",
    `--datadir=${join(dir, "data")}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${join(dir, "sock")}`,
    `--pid-file=${join(dir, "pid")}`,
    ...tlsArgs,
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  const root = async () => mysql.createConnection({ host: "127.0.0.1", port, user: "root" });
  const start = async () => {
    child = spawn(MARIADBD, args, { stdio: "ignore" });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await (await root()).end();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`mariadbd did not start: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const stop = async (signal: "SIGKILL" | "SIGTERM" = "SIGTERM") => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(signal);
    await exited;
  };
  await start();
  return {
    port,
    async sql(statement) {
      const c = await root();
      try {
        await c.query(statement);
      } finally {
        await c.end();
      }
    },
    async rows(statement) {
      const c = await root();
      try {
        const [rows] = await c.query(statement);
        return rows as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    },
    stop,
    start,
    async destroy() {
      await stop("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
