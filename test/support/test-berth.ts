import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type Berth, startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { dropTestStore, testStoreEnv } from "./test-store.js";

export const ADMIN_PASSWORD = "test-admin-password-0001";

export interface TestBerth {
  berth: Berth;
  url: string;
  dataDir: string;
  /** Every log line Berth wrote, raw. */
  logs: string[];
  /** A bearer token of the bootstrap admin. */
  adminToken: string;
  /** fetch against the REST API with the admin's token unless `token` is given (null = none). */
  api(
    path: string,
    init?: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers, asserted field by field in the tests
    body: any;
    text: string;
    headers: Headers;
  }>;
  /** Stops Berth; the data directory is removed unless `keepData` (to start again on it). */
  close(keepData?: boolean): Promise<void>;
}

/** What a test client presents over TLS: the CA it trusts and, for mutual TLS, its certificate. */
export interface TlsIdentity {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * One HTTP(S) request with node's own client (fetch cannot be given a CA per call). Over TLS the
 * name checked is "localhost", which the test certificates carry, whatever the URL's address.
 */
export function requestJson(
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string | undefined;
    tls?: TlsIdentity | undefined;
    /** The client's own address (another loopback address stands for another source). */
    localAddress?: string | undefined;
  },
): Promise<{ status: number; text: string; headers: Headers }> {
  const u = new URL(url);
  const send = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: init.method,
        headers: init.headers,
        agent: false,
        ...(init.localAddress ? { localAddress: init.localAddress } : {}),
        ...(u.protocol === "https:" ? { servername: "localhost", ...init.tls } : {}),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, text, headers });
        });
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/**
 * A real Berth on port 0 with its own temporary data directory and captured logs, on the test
 * store (test-store.ts: SQLite in the directory, or a PostgreSQL database of its own).
 */
export async function startTestBerth(
  env: Record<string, string> = {},
  options: { dataDir?: string; tls?: TlsIdentity } = {},
): Promise<TestBerth> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "berth-test-")));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config = loadConfig({
    BERTH_PORT: "0",
    BERTH_DATA_DIR: dataDir,
    BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    BERTH_LOG_LEVEL: "info",
    BERTH_SHUTDOWN_GRACE_MS: "2000",
    // Suites create many connections; the rate-limit suites turn the RFC's limits back on.
    BERTH_RATE_LIMITS: "off",
    ...(await testStoreEnv(dataDir)),
    ...env,
  });
  const berth = await startBerth(config, { logDestination: sink, announce: (l) => logs.push(l) });
  const url = berth.url;
  const api: TestBerth["api"] = async (path, init = {}) => {
    const token = init.token === undefined ? adminToken : init.token;
    const res = await requestJson(url + path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...init.headers,
      },
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === "string"
            ? init.body
            : JSON.stringify(init.body),
      tls: options.tls,
    });
    let body: unknown;
    try {
      body = res.text ? JSON.parse(res.text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text: res.text, headers: res.headers };
  };
  let adminToken = "";
  const login = await api("/api/auth/login", {
    body: { username: "admin", password: ADMIN_PASSWORD },
    token: null,
  });
  if (login.status !== 200) throw new Error(`admin login failed: ${login.text}`);
  adminToken = login.body.token;
  return {
    berth,
    url,
    dataDir,
    logs,
    get adminToken() {
      return adminToken;
    },
    api,
    async close(keepData = false) {
      await berth.close();
      if (keepData) return;
      await rm(dataDir, { recursive: true, force: true });
      await dropTestStore(dataDir);
    },
  };
}
