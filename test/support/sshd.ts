import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./throwaway-postgres.js";
import { until } from "./waits.js";

const run = promisify(execFile);

/** A client key pair made for the test: the private key as a file holds it, and its public line. */
export interface TestKey {
  privateKey: string;
  publicLine: string;
  passphrase?: string;
}

/**
 * A real OpenSSH server of its own (Debian's /usr/sbin/sshd) on a free loopback port, with its own
 * config, host key and authorized_keys in a temporary folder. Signs in `root` (the test runs as
 * root) by key only; allows TCP forwarding, so tunnels reach the local PostgreSQL and MariaDB.
 * kill() takes down the listener and every connection it serves (the process group), as a crash
 * or a reboot of the bastion would; start() brings it back on the same port with the same key.
 */
export interface Sshd {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The host key, known_hosts key format (`ssh-ed25519 AAAA...`). */
  hostKey: string;
  readonly keys: { ed25519: TestKey; ecdsaEncrypted: TestKey; rsa: TestKey; stranger: TestKey };
  readonly dir: string;
  start(): Promise<void>;
  kill(): Promise<void>;
  /** How many connections it serves now (each is a process below the listener). */
  connections(): number;
  /** A new host key (the server "reinstalled"), effective from the next start. Returns it. */
  changeHostKey(): Promise<string>;
  close(): Promise<void>;
}

async function keygen(
  dir: string,
  name: string,
  type: string,
  bits: string[],
  passphrase = "",
): Promise<TestKey> {
  const file = join(dir, name);
  await run("ssh-keygen", [
    "-q",
    "-t",
    type,
    ...bits,
    "-N",
    passphrase,
    "-C",
    `berth-test-${name}`,
    "-f",
    file,
  ]);
  const key: TestKey = {
    privateKey: await readFile(file, "utf8"),
    publicLine: (await readFile(`${file}.pub`, "utf8")).trim(),
  };
  if (passphrase) key.passphrase = passphrase;
  return key;
}

/** Every process below `root` (from /proc: each one's parent is the fourth field of its stat). */
function descendantsOf(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may hold spaces: fields count from after it.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // Exited while listed.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parentOf)
      if (parent === pid) {
        out.push(child);
        walk(child);
      }
  };
  walk(root);
  return out;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

const hostKeyOf = (publicLine: string) => publicLine.split(/\s+/).slice(0, 2).join(" ");

export async function startSshd(): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), "berth-sshd-"));
  // sshd refuses to start without its privilege separation directory.
  mkdirSync("/run/sshd", { recursive: true });
  const port = await freePort();
  let hostKeyFile = join(dir, "host_ed25519");
  let hostKey = hostKeyOf((await keygen(dir, "host_ed25519", "ed25519", [])).publicLine);
  const [ed25519, ecdsaEncrypted, rsa, stranger] = await Promise.all([
    keygen(dir, "client_ed25519", "ed25519", []),
    keygen(dir, "client_ecdsa", "ecdsa", ["-b", "256"], "correct horse battery"),
    keygen(dir, "client_rsa", "rsa", ["-b", "2048"]),
    keygen(dir, "stranger_ed25519", "ed25519", []),
  ]);
  await writeFile(
    join(dir, "authorized_keys"),
    `${[ed25519, ecdsaEncrypted, rsa].map((k) => k.publicLine).join("\n")}\n`,
  );
  const writeConfig = () =>
    writeFile(
      join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKeyFile}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "AllowTcpForwarding yes",
        "AllowUsers root",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
  await writeConfig();

  let child: ChildProcess | undefined;
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });

  const sshd: Sshd = {
    host: "127.0.0.1",
    port,
    user: "root",
    hostKey,
    keys: { ed25519, ecdsaEncrypted, rsa, stranger },
    dir,
    async start() {
      // Its own process group, so that kill() reaches the per-connection processes too.
      child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], {
        stdio: ["ignore", "ignore", process.env.BERTH_TEST_SSHD_LOG ? "inherit" : "ignore"],
        detached: true,
      });
      const exited = new Promise<never>((_, reject) =>
        child!.once("exit", (code) => reject(new Error(`sshd exited at start (code ${code})`))),
      );
      exited.catch(() => {});
      await Promise.race([until("sshd listens", listening), exited]);
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((resolve) => c.once("exit", resolve));
      // Each connection's sshd calls setsid(): its own process group. They are found as descendants.
      for (const pid of descendantsOf(c.pid!)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      process.kill(-c.pid!, "SIGKILL");
      await gone;
      await until("sshd's port closed", async () => !(await listening()));
    },
    connections() {
      if (!child?.pid || child.exitCode !== null) return 0;
      const pid = child.pid;
      // Direct children only: one per connection (each forks its own helpers below it).
      return descendantsOf(pid).filter((p) => parentOf(p) === pid).length;
    },
    async changeHostKey() {
      hostKeyFile = join(dir, "host_ed25519_new");
      hostKey = hostKeyOf((await keygen(dir, "host_ed25519_new", "ed25519", [])).publicLine);
      sshd.hostKey = hostKey;
      await writeConfig();
      return hostKey;
    },
    async close() {
      await sshd.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await sshd.start();
  return sshd;
}
