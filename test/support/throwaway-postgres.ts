import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian installs the server binaries off PATH: /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const m of majors) if (existsSync(join(root, m, "bin", "initdb"))) return join(root, m, "bin");
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ThrowawayPostgres {
  readonly host: string;
  readonly port: number;
  /** The superuser `postgres` password (scram-sha-256 is enforced). */
  readonly password: string;
  readonly dir: string;
  /** `fast` (the default) lets sessions end cleanly; `immediate` is a crash (no shutdown checkpoint). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** A standby becomes a primary on a new timeline (`pg_ctl promote`, waiting until it is done). */
  promote(): Promise<void>;
  /** Runs SQL as the superuser through psql. */
  sql(statement: string): Promise<string>;
  destroy(): Promise<void>;
}

function asPostgres(cmd: string, args: string[]): string[] {
  // initdb refuses to run as root; the cluster belongs to the postgres user.
  return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
}

/**
 * A real PostgreSQL cluster of its own (DESIGN §5): initdb with scram-sha-256, started on a free port,
 * for tests that need real password checks, TLS settings, restarts or extra servers.
 */
export async function startThrowawayPostgres(
  options: { password?: string; conf?: string[] } = {},
): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql");
  const password = options.password ?? "throwaway-superuser-pw";
  const dir = mkdtempSync(join(tmpdir(), "berth-pg-"));
  chmodSync(dir, 0o755);
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  const data = join(dir, "data");
  const [c1, ...a1] = asPostgres(join(bin, "initdb"), [
    "-D",
    data,
    "--auth=scram-sha-256",
    `--pwfile=${pwfile}`,
    "-U",
    "postgres",
    "--no-sync",
    "-E",
    "UTF8",
  ]);
  await run(c1!, a1);
  const port = await freePort();
  const conf = [
    "listen_addresses='127.0.0.1'",
    `port=${port}`,
    `unix_socket_directories='${dir}'`,
    "fsync=off",
    ...(options.conf ?? []),
  ];
  writeFileSync(join(data, "postgresql.auto.conf"), `${conf.join("\n")}\n`);
  return runCluster(bin, dir, password, port);
}

/** Starts a cluster whose data directory is ready, and the handle the tests use. */
async function runCluster(
  bin: string,
  dir: string,
  password: string,
  port: number,
): Promise<ThrowawayPostgres> {
  const data = join(dir, "data");
  const pgCtl = (action: string, extra: string[] = []) => {
    const [c, ...a] = asPostgres(join(bin, "pg_ctl"), [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      ...extra,
      action,
    ]);
    return run(c!, a);
  };
  await pgCtl("start");
  return {
    host: "127.0.0.1",
    port,
    password,
    dir,
    async stop(mode = "fast") {
      await pgCtl("stop", ["-m", mode]);
    },
    async start() {
      await pgCtl("start");
    },
    async promote() {
      await pgCtl("promote");
    },
    async sql(statement: string) {
      const { stdout } = await run(
        "psql",
        ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-Atc", statement],
        {
          env: { ...process.env, PGPASSWORD: password },
        },
      );
      return stdout.trim();
    },
    async destroy() {
      await pgCtl("stop", ["-m", "immediate"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A streaming replica of a throwaway primary (pg_basebackup -R, then its own port): a real hot
 * standby, read-only, following the primary's WAL. initdb's default pg_hba.conf already admits
 * replication connections from 127.0.0.1 with scram-sha-256.
 */
export async function startThrowawayReplica(primary: ThrowawayPostgres): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir()!;
  const dir = mkdtempSync(join(tmpdir(), "berth-pg-replica-"));
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const [c, ...a] = asPostgres("env", [
    `PGPASSWORD=${primary.password}`,
    join(bin, "pg_basebackup"),
    "-h",
    "127.0.0.1",
    "-p",
    String(primary.port),
    "-U",
    "postgres",
    "-D",
    data,
    "-R",
    "-X",
    "stream",
    "--no-sync",
  ]);
  await run(c!, a);
  const port = await freePort();
  // Later lines win: the copied settings named the primary's port and socket directory.
  const [c2, ...a2] = asPostgres("sh", [
    "-c",
    `printf "port=${port}\nunix_socket_directories='${dir}'\nhot_standby=on\n" >> '${join(data, "postgresql.auto.conf")}'`,
  ]);
  await run(c2!, a2);
  return runCluster(bin, dir, primary.password, port);
}

/**
 * Waits until the replica has replayed everything the primary had written when called. A test that
 * promotes a replica right after a write needs it: under load the standby can lag by more than the
 * test's next step, and the promoted server then lacks the table the test just made.
 */
export async function replayedUpTo(primary: ThrowawayPostgres, replica: ThrowawayPostgres): Promise<void> {
  const lsn = await primary.sql("SELECT pg_current_wal_lsn()");
  const deadline = Date.now() + 15_000;
  for (;;) {
    if ((await replica.sql(`SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === "t") return;
    if (Date.now() > deadline) throw new Error(`the replica did not replay up to ${lsn} within 15 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
