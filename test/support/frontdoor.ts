import { execFile } from "node:child_process";
import { connect } from "node:net";
import pg from "pg";
import { LOCAL } from "./services.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "./test-berth.js";

export const FD_METRICS_TOKEN = "metrics-token-for-the-front-door-tests";

/** An in-process Berth with its front door on a free port and one PostgreSQL connection on the local server. */
export interface FrontDoorBerth {
  readonly t: TestBerth;
  readonly port: number;
  /** The Berth connection's name: the `database` a front-door client names. */
  readonly database: string;
  readonly connectionId: string;
  /** node-postgres settings for a front-door client (admin, over loopback). */
  pgConfig(extra?: pg.ClientConfig): pg.ClientConfig;
  /** A connected node-postgres client through the front door; ended by `close`. */
  client(extra?: pg.ClientConfig): Promise<pg.Client>;
  /** /metrics, as text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export async function startFrontDoorBerth(
  options: { maxPoolSize?: number; acquireTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<FrontDoorBerth> {
  const t = await startTestBerth({
    BERTH_PG_PORT: "0",
    BERTH_METRICS_TOKEN: FD_METRICS_TOKEN,
    ...options.env,
  });
  const database = "fd";
  const created = await t.api("/api/connections", {
    body: {
      name: database,
      type: "postgresql",
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      username: LOCAL.postgres.user,
      password: "",
      maxPoolSize: options.maxPoolSize ?? 2,
      acquireTimeoutMs: options.acquireTimeoutMs ?? 20_000,
    },
  });
  if (created.status !== 201 && created.status !== 200) {
    await t.close();
    throw new Error(`connection not created: ${created.text}`);
  }
  const port = t.berth.pgPort!;
  const opened: pg.Client[] = [];
  const pgConfig = (extra: pg.ClientConfig = {}): pg.ClientConfig => ({
    host: "127.0.0.1",
    port,
    user: "admin",
    password: ADMIN_PASSWORD,
    database,
    ...extra,
  });
  return {
    t,
    port,
    database,
    connectionId: created.body.id,
    pgConfig,
    async client(extra) {
      const c = new pg.Client(pgConfig(extra));
      // A client Berth ends (a test's own failure) must not crash the test run.
      c.on("error", () => {});
      opened.push(c);
      await c.connect();
      return c;
    },
    async metrics() {
      const res = await fetch(`${t.url}/metrics`, {
        headers: { authorization: `Bearer ${FD_METRICS_TOKEN}` },
      });
      return res.text();
    },
    async close() {
      await Promise.all(opened.map((c) => c.end().catch(() => {})));
      await t.close();
    },
  };
}

/** The value of one sample on /metrics (0 when absent), matched by name and a label substring. */
export function metricValue(text: string, name: string, labels = ""): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.startsWith(`${name}_`)) continue;
    if (labels && !line.includes(labels)) continue;
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) total += v;
  }
  return total;
}

/** A client of the local PostgreSQL itself, not through Berth (to look at what the server sees). */
export async function directClient(): Promise<pg.Client> {
  const c = new pg.Client({ ...LOCAL.postgres });
  await c.connect();
  return c;
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs psql, pgbench or the like against the front door with the admin's password; never throws on exit codes. */
export function runTool(
  file: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        env: { ...process.env, PGPASSWORD: ADMIN_PASSWORD, PGCONNECT_TIMEOUT: "10", ...options.env },
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        if (err && typeof err.code !== "number" && !err.killed) return reject(err);
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * A CancelRequest written by hand (length 16, code 80877102, process id, secret key) to `port`:
 * what psql and libpq send on Ctrl-C.
 */
export function sendCancelRequest(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      const b = Buffer.alloc(16);
      b.writeInt32BE(16, 0);
      b.writeInt32BE(80877102, 4);
      b.writeInt32BE(processId, 8);
      b.writeInt32BE(secretKey, 12);
      s.end(b);
    });
    s.on("close", () => resolve());
    s.on("error", reject);
  });
}
