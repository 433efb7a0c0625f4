import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/**
 * A real Berth for the SDK's tests: the repository's built server (dist/main.js) as its own
 * process, with a throwaway data directory. BERTH_MAIN names it (scripts/test-packed.sh sets it).
 */
const ADMIN_PASSWORD = "sdk-test-admin-password";

export function berthMain(): string {
  const main = process.env.BERTH_MAIN;
  if (!main || !existsSync(main)) {
    throw new Error(`BERTH_MAIN must name Berth's built dist/main.js (got ${main ?? "nothing"})`);
  }
  return resolve(main);
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Extra node flags for Berth (a small heap, say). */
  nodeArgs?: string[];
}

export interface RunningBerth {
  /** The HTTP port: gRPC, Connect, REST. */
  url: string;
  /** The dedicated grpc-js port. */
  grpcUrl: string;
  adminToken: string;
  readonly pid: number;
  /** Berth's REST API as the admin. */
  api(path: string, body?: unknown, method?: string): Promise<Record<string, unknown>>;
  /** Resident memory of the Berth process, MiB. */
  rssMiB(): number;
  /** Stops the process (SIGTERM drains, SIGKILL does not); the data directory is kept. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

export async function startBerth(options: StartOptions = {}): Promise<RunningBerth> {
  const main = berthMain();
  const dataDir = await mkdtemp(join(tmpdir(), "berth-sdk-test-"));
  const [port, grpcPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let adminToken = "";

  const spawnBerth = async () => {
    child = spawn(process.execPath, [...(options.nodeArgs ?? []), main], {
      cwd: dirname(dirname(main)),
      env: {
        ...process.env,
        BERTH_PORT: String(port),
        BERTH_GRPC_PORT: String(grpcPort),
        BERTH_DATA_DIR: dataDir,
        BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
        BERTH_LOG_LEVEL: "warn",
        BERTH_RATE_LIMITS: "off",
        ...options.env,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Berth exited with ${child.exitCode} while starting`);
      try {
        if ((await fetch(`${url}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 30_000) throw new Error("Berth did not become ready within 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const rest = async (path: string, body?: unknown, method?: string, token = adminToken) => {
    const res = await fetch(url + path, {
      method: method ?? (body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method ?? "POST"} ${path}: ${res.status} ${text}`);
    return json;
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(signal);
    const force = setTimeout(() => c.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(force);
  };

  try {
    await spawnBerth();
    adminToken = (await rest("/api/auth/login", { username: "admin", password: ADMIN_PASSWORD }, "POST", ""))
      .token as string;
  } catch (err) {
    await stop("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    get adminToken() {
      return adminToken;
    },
    get pid() {
      return child!.pid!;
    },
    api: (path, body, method) => rest(path, body, method),
    rssMiB() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child!.pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : Number.NaN;
    },
    stop,
    start: spawnBerth,
    async dispose() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type Engine = "postgresql" | "mysql";

/** Registers the local PostgreSQL or MariaDB (database `test`) and returns the connection's id. */
export async function createConnection(
  berth: RunningBerth,
  engine: Engine,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const body =
    engine === "postgresql"
      ? { server: "127.0.0.1", port: 5432, username: "postgres" }
      : { server: "127.0.0.1", port: 3306, username: "root" };
  const created = await berth.api("/api/connections", {
    name: `sdk-${engine}-${Math.random().toString(36).slice(2, 10)}`,
    type: engine,
    database: "test",
    password: "",
    ...body,
    ...extra,
  });
  return created.id as string;
}

/** A service token for the given connections, as a service would use. */
export async function createServiceToken(
  berth: RunningBerth,
  connectionIds: string[],
  name = `sdk-test-${Math.random().toString(36).slice(2, 10)}`,
): Promise<string> {
  const created = await berth.api("/api/tokens", { name, connectionIds, accessLevel: "user" });
  return created.token as string;
}
