import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
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
  /** Berth serves TLS (BERTH_TLS_* in env): the CA its certificate chains to, for the test's own calls. */
  tlsCa?: string;
  /** Extra node flags for Berth (a small heap, say). */
  nodeArgs?: string[];
}

/** One JSON request with node's http/https (fetch cannot be given a CA on Node 20). */
function requestJson(
  url: string,
  o: { method: string; token?: string; body?: unknown; ca?: string },
): Promise<{ status: number; text: string }> {
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  const send = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: o.method,
        ca: o.ca,
        headers: {
          "content-type": "application/json",
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
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
  const url = options.tlsCa ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let adminToken = "";

  const spawnBerth = async () => {
    child = spawn(process.execPath, [...(options.nodeArgs ?? []), main], {
      cwd: dirname(dirname(main)),
      env: {
        ...process.env,
        BERTH_PORT: String(port),
        // The dedicated grpc-js port is plaintext only.
        ...(options.tlsCa ? {} : { BERTH_GRPC_PORT: String(grpcPort) }),
        BERTH_DATA_DIR: dataDir,
        BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
        BERTH_LOG_LEVEL: "warn",
        BERTH_RATE_LIMITS: "off",
        ...options.env,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    // A test process that dies (a timeout, a crash) leaves no Berth behind.
    const orphan = child;
    process.once("exit", () => orphan.kill("SIGKILL"));
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Berth exited with ${child.exitCode} while starting`);
      try {
        if ((await requestJson(`${url}/readyz`, { method: "GET", ca: options.tlsCa })).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 30_000) throw new Error("Berth did not become ready within 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const rest = async (path: string, body?: unknown, method?: string, token = adminToken) => {
    const m = method ?? (body === undefined ? "GET" : "POST");
    const res = await requestJson(url + path, { method: m, token, body, ca: options.tlsCa });
    if (res.status >= 300) throw new Error(`${m} ${path}: ${res.status} ${res.text}`);
    return (res.text ? JSON.parse(res.text) : {}) as Record<string, unknown>;
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
