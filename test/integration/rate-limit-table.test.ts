import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { AccessLevel, AccessService } from "../../src/gen/berth/v1/access_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { RetryInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

/**
 * Every number of RFC 002 §9.2, each exhausted exactly: N calls pass, call N+1 is refused (REST 429
 * with Retry-After, Connect RESOURCE_EXHAUSTED with RetryInfo) — even on another connection, since
 * the budget is the caller's, not the connection's — while another user still has their whole
 * budget. The numbers are written out here, not read from src/limits/rate-limits.ts, so that a row
 * missing from that table fails its test. Nothing waits for a window to pass: a window only has to
 * be longer than the test, and Retry-After says how long it is.
 */
const hasPostgres = await serviceAvailable("postgres");

/** Points at this machine's PostgreSQL: tests, validations and pool resets really connect. */
const pgSpec = (name: string) => ({
  name,
  type: "postgresql",
  server: LOCAL.postgres.host,
  port: LOCAL.postgres.port,
  database: "test",
  username: "postgres",
  password: "",
});

interface World {
  b: TestBerth;
  /** Two saved connections: the budget is spent on `a`, the refusal comes on `b`. */
  a: string;
  bId: string;
  /** A member whose access the access-changes row grants and revokes. */
  mia: string;
  connections: ReturnType<typeof createClient<typeof ConnectionService>>;
  access: ReturnType<typeof createClient<typeof AccessService>>;
}

type Rest = { status: number; headers: Headers; body: { error?: string; details?: unknown } };

interface Row {
  what: string;
  limit: number;
  windowSec: number;
  /** The i-th call of the caller holding `token`, on connection `conn` where a connection is meant. */
  rest?: (w: World, token: string, conn: string, i: number) => Promise<Rest>;
  /** The same operation over Connect; resolves when it passed. */
  connect: (w: World, token: string, conn: string, i: number) => Promise<unknown>;
}

/** Up to 150 calls plus three password hashes: seconds alone, more on a machine busy with other suites. */
const SLOW = 120_000;
const HOUR = 3600;
const MINUTE = 60;
const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

const ROWS: Row[] = [
  {
    what: "connection creation",
    limit: 10,
    windowSec: HOUR,
    rest: (w, token, _c, i) =>
      w.b.api("/api/connections", { body: pgSpec(`rl-create-${i}-${token.slice(-6)}`), token }),
    connect: (w, token, _c, i) =>
      w.connections.createConnection(
        { spec: { ...pgSpec(`rl-create-c${i}-${token.slice(-6)}`), type: Engine.POSTGRESQL } },
        auth(token),
      ),
  },
  {
    // A saved test, an unsaved test and a validation, in turn: all three spend one budget.
    what: "connection tests (saved, unsaved, validate)",
    limit: 30,
    windowSec: HOUR,
    rest: (w, token, conn, i) =>
      i % 3 === 0
        ? w.b.api(`/api/connections/${conn}/test`, { body: {}, token })
        : i % 3 === 1
          ? w.b.api("/api/connections/test", { body: pgSpec("unsaved"), token })
          : w.b.api(`/api/connections/${conn}/validate`, { body: {}, token }),
    connect: (w, token, conn) =>
      w.connections.validateConnection({ target: { case: "id", value: conn } }, auth(token)),
  },
  {
    what: "pool resets",
    limit: 5,
    windowSec: HOUR,
    rest: (w, token, conn) => w.b.api(`/api/connections/${conn}/reset`, { body: {}, token }),
    connect: (w, token, conn) => w.connections.resetPool({ id: conn }, auth(token)),
  },
  {
    // Grants and revocations share the budget: grant, revoke, grant, …
    what: "access changes (grant and revoke)",
    limit: 20,
    windowSec: HOUR,
    rest: (w, token, conn, i) =>
      i % 2 === 0
        ? w.b.api(`/api/connections/${conn}/access`, { body: { userId: w.mia, accessLevel: "user" }, token })
        : w.b.api(`/api/connections/${conn}/access/${w.mia}`, { method: "DELETE", token }),
    connect: (w, token, conn) =>
      w.access.grantAccess(
        { connectionId: conn, grantee: { case: "userId", value: w.mia }, accessLevel: AccessLevel.USER },
        auth(token),
      ),
  },
  {
    what: "connection list",
    limit: 60,
    windowSec: MINUTE,
    rest: (w, token) => w.b.api("/api/connections", { token }),
    connect: (w, token) => w.connections.listConnections({}, auth(token)),
  },
  {
    what: "status checks",
    limit: 120,
    windowSec: MINUTE,
    rest: (w, token, conn) => w.b.api(`/api/connections/${conn}/status`, { token }),
    connect: (w, token, conn) => w.connections.getConnectionStatus({ id: conn }, auth(token)),
  },
  {
    // The status stream (pool statistics) has no REST route: Connect only. One message, then hang up.
    what: "pool stats (status stream)",
    limit: 60,
    windowSec: MINUTE,
    connect: async (w, token, conn) => {
      const abort = new AbortController();
      try {
        for await (const m of w.connections.watchConnectionStatus(
          { id: conn, intervalMs: 60_000 },
          { ...auth(token), signal: abort.signal },
        )) {
          return m;
        }
      } finally {
        abort.abort();
      }
    },
  },
];

let running: TestBerth | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A fresh Berth (fresh budgets), its setup spent by the bootstrap admin, not by the users measured. */
async function world(): Promise<World & { alice: string; bob: string }> {
  const b = await startTestBerth({ BERTH_RATE_LIMITS: "rfc" });
  running = b;
  const conn = async (name: string) => {
    const r = await b.api("/api/connections", { body: pgSpec(name) });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const user = async (username: string, role: string) => {
    const r = await b.api("/api/users", { body: { username, password: `${username}-password-12`, role } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const login = async (username: string) =>
    (
      await b.api("/api/auth/login", {
        body: { username, password: `${username}-password-12` },
        token: null,
      })
    ).body.token as string;
  const [a, bId] = [await conn("rl-a"), await conn("rl-b")];
  const mia = await user("mia", "member");
  await user("alice", "admin");
  await user("bob", "admin");
  const transport = createConnectTransport({ baseUrl: b.url, httpVersion: "1.1" });
  return {
    b,
    a,
    bId,
    mia,
    connections: createClient(ConnectionService, transport),
    access: createClient(AccessService, transport),
    alice: await login("alice"),
    bob: await login("bob"),
  };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 0, // passed
    (e) => ConnectError.from(e).code,
  );

describe.skipIf(!hasPostgres)("each rate limit of RFC 002 §9.2", () => {
  it.each(ROWS)(
    "$what: $limit per $windowSec s per user, then refused on any connection; others unaffected",
    async (row) => {
      const w = await world();
      // The budget, spent exactly. Its window opened with the first call.
      const windowOpened = Date.now();
      /** What a Retry-After may say now: the rest of the window, give or take a second. */
      const rightWait = (seconds: number) => {
        expect(seconds).toBeGreaterThanOrEqual(
          row.windowSec - Math.ceil((Date.now() - windowOpened) / 1000) - 1,
        );
        expect(seconds).toBeLessThanOrEqual(row.windowSec);
      };
      for (let i = 0; i < row.limit; i++) {
        if (row.rest) {
          const r = await row.rest(w, w.alice, w.a, i);
          expect(r.status, `call ${i + 1} of ${row.limit}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
          expect(r.headers.get("x-ratelimit-limit")).toBe(String(row.limit));
          expect(r.headers.get("x-ratelimit-remaining")).toBe(String(row.limit - 1 - i));
        } else {
          expect(await codeOf(row.connect(w, w.alice, w.a, i)), `call ${i + 1} of ${row.limit}`).toBe(0);
        }
      }
      // Call N+1, on the other connection: the budget is the caller's.
      if (row.rest) {
        const refused = await row.rest(w, w.alice, w.bId, row.limit);
        expect(refused.status).toBe(429);
        expect(refused.body).toMatchObject({
          error: "rate_limited",
          details: { reason: "rate_limited", limit: row.limit, remaining: 0 },
        });
        rightWait(Number(refused.headers.get("retry-after")));
      }
      const err = await row.connect(w, w.alice, w.bId, row.limit + 1).then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.ResourceExhausted);
      rightWait(Number(err?.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds));
      // Another user's budget is untouched.
      if (row.rest) expect((await row.rest(w, w.bob, w.a, 0)).status).toBeLessThan(300);
      expect(await codeOf(row.connect(w, w.bob, w.bId, 1))).toBe(0);
    },
    SLOW,
  );

  it(
    "validation alone spends the tests' budget: after 30 validations a test is refused",
    async () => {
      const w = await world();
      const post = (path: string, body: unknown = {}) => w.b.api(path, { body, token: w.alice });
      for (let i = 0; i < 30; i++) {
        expect((await post(`/api/connections/${w.a}/validate`)).status, `validation ${i + 1}`).toBe(200);
      }
      expect((await post(`/api/connections/${w.a}/validate`)).status).toBe(429);
      expect((await post(`/api/connections/${w.a}/test`)).status).toBe(429);
      expect((await post("/api/connections/test", pgSpec("unsaved"))).status).toBe(429);
    },
    SLOW,
  );
});
