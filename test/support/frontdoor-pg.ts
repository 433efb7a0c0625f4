import { connect as tcpConnect } from "node:net";
import pg from "pg";
import { ADMIN_PASSWORD, type TestBerth } from "./test-berth.js";

/** What a PostgreSQL client learned from an ErrorResponse: the fields the tests assert. */
export interface PgFailure {
  code: string | undefined;
  severity: string | undefined;
  message: string;
  detail: string | undefined;
  hint: string | undefined;
}

export function failureOf(err: unknown): PgFailure {
  const e = err as { code?: string; severity?: string; message?: string; detail?: string; hint?: string };
  return {
    code: e.code,
    severity: e.severity,
    message: String(e.message ?? err),
    detail: e.detail,
    hint: e.hint,
  };
}

/** The failure a promise ends with; fails the test when it succeeds instead. */
export async function failureFrom(p: Promise<unknown>): Promise<PgFailure> {
  return p.then(
    () => {
      throw new Error("expected a failure, got success");
    },
    (err: unknown) => failureOf(err),
  );
}

export interface FrontDoorClientOptions {
  user?: string;
  password?: string;
  database: string;
  host?: string;
  ssl?: pg.ClientConfig["ssl"];
  connectionTimeoutMillis?: number;
}

/**
 * A node-postgres client of Berth's front door (not yet connected). Errors the server sends
 * outside a query (a FATAL on revoke) are collected in `errors` instead of crashing the test.
 */
export function frontDoorClient(
  t: TestBerth,
  o: FrontDoorClientOptions,
): pg.Client & { errors: PgFailure[] } {
  const client = new pg.Client({
    host: o.host ?? "127.0.0.1",
    port: t.berth.pgPort,
    user: o.user ?? "admin",
    password: o.password ?? ADMIN_PASSWORD,
    database: o.database,
    ssl: o.ssl,
    connectionTimeoutMillis: o.connectionTimeoutMillis ?? 10_000,
  }) as pg.Client & { errors: PgFailure[] };
  client.errors = [];
  client.on("error", (err) => client.errors.push(failureOf(err)));
  return client;
}

/** Connects, or answers why not (the connection is closed either way on failure). */
export async function signInFailure(t: TestBerth, o: FrontDoorClientOptions): Promise<PgFailure> {
  const c = frontDoorClient(t, o);
  const f = await failureFrom(c.connect());
  await c.end().catch(() => {});
  return f;
}

/** A PostgreSQL connection on the local server (trust auth) through Berth's REST API; its id. */
export async function createPgConnection(
  t: TestBerth,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const r = await t.api("/api/connections", {
    body: {
      name,
      type: "postgresql",
      server: "127.0.0.1",
      port: 5432,
      database: "test",
      username: "postgres",
      password: "",
      ...extra,
    },
  });
  if (r.status !== 201) throw new Error(`connection ${name} not created: ${r.text}`);
  return r.body.id as string;
}

/** A Berth user with a password (and so a SCRAM verifier), granted `level` on the connections given. */
export async function createUser(
  t: TestBerth,
  username: string,
  password: string,
  grants: Record<string, "viewer" | "user" | "editor" | "admin"> = {},
): Promise<string> {
  const u = await t.api("/api/users", { body: { username, password } });
  if (u.status !== 201) throw new Error(`user ${username} not created: ${u.text}`);
  for (const [connectionId, accessLevel] of Object.entries(grants)) {
    const g = await t.api(`/api/connections/${connectionId}/access`, {
      body: { userId: u.body.id, accessLevel },
    });
    if (g.status >= 300) throw new Error(`grant for ${username} failed: ${g.text}`);
  }
  return u.body.id as string;
}

/** One metric's samples from /metrics (the shared port, with the metrics token), by their label text. */
export async function metricSamples(t: TestBerth, token: string, name: string): Promise<Map<string, number>> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

/** An SSLRequest packet. */
export function sslRequest(): Buffer {
  const req = Buffer.alloc(8);
  req.writeInt32BE(8, 0);
  req.writeInt32BE(80877103, 4);
  return req;
}

/** The startup message of protocol 3.0 with these parameters. */
export function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`, "utf8")]),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/**
 * Sends a StartupMessage and answers the first thing the server says: the authentication
 * request's code (3 cleartext, 10 SASL) or an ErrorResponse's type byte ('E' = 69).
 */
export function firstAuthRequest(
  host: string,
  port: number,
  params: Record<string, string>,
): Promise<{ type: string; code: number | undefined }> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("no answer to the startup message within 5 s"));
    }, 5_000);
    s.on("connect", () => s.write(startupMessage(params)));
    s.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 5) return;
      clearTimeout(timer);
      const type = String.fromCharCode(buf[0]!);
      resolve({ type, code: type === "R" && buf.length >= 9 ? buf.readInt32BE(5) : undefined });
      s.destroy();
    });
    s.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
