import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessLevel, AccessService } from "../../src/gen/berth/v1/access_service_pb.js";
import { AdminService } from "../../src/gen/berth/v1/admin_service_pb.js";
import { AuditService } from "../../src/gen/berth/v1/audit_service_pb.js";
import { AuthService } from "../../src/gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { BundleService } from "../../src/gen/berth/v1/bundle_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { TokenService } from "../../src/gen/berth/v1/token_service_pb.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { UserService } from "../../src/gen/berth/v1/user_service_pb.js";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { SERVED } from "../../src/server/service-table.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

/**
 * Every RPC and every REST route, called by nine kinds of caller. A call is either refused by
 * authorization (UNAUTHENTICATED, PERMISSION_DENIED, or NOT_FOUND for what one may not see) or it
 * gets past it (and may still fail for other reasons: the connection points at a closed port).
 * Each refusal must leave exactly one audit event. Sign-in and sign-out are public or self-serving
 * and are covered by their own suites.
 */
type Caller =
  | "anonymous"
  | "unrelated"
  | "viewer"
  | "user"
  | "editor"
  | "admin"
  | "owner"
  | "globalAdmin"
  | "tokenInScope"
  | "tokenOutOfScope";
const CALLERS: Caller[] = [
  "anonymous",
  "unrelated",
  "viewer",
  "user",
  "editor",
  "admin",
  "owner",
  "globalAdmin",
  "tokenInScope",
  "tokenOutOfScope",
];
const RANK = { viewer: 1, user: 2, editor: 3, admin: 4, owner: 5 } as const;
type Need = keyof typeof RANK | "authenticated" | "person" | "globalAdmin" | "public" | "nobody";

/** The level each caller holds on the connection under test. */
function levelOf(c: Caller): keyof typeof RANK | undefined {
  if (c === "viewer" || c === "user" || c === "editor" || c === "admin" || c === "owner") return c;
  if (c === "globalAdmin") return "owner";
  if (c === "tokenInScope") return "user";
  return undefined;
}

type Outcome = "allowed" | Code.Unauthenticated | Code.PermissionDenied | Code.NotFound;

function expected(need: Need, c: Caller): Outcome {
  if (need === "public") return "allowed";
  if (c === "anonymous") return Code.Unauthenticated;
  if (need === "authenticated") return "allowed";
  if (need === "person") return c.startsWith("token") ? Code.PermissionDenied : "allowed";
  if (need === "globalAdmin") return c === "globalAdmin" ? "allowed" : Code.PermissionDenied;
  if (need === "nobody") return Code.NotFound;
  const level = levelOf(c);
  if (!level) return Code.NotFound;
  return RANK[level] >= RANK[need] ? "allowed" : Code.PermissionDenied;
}

const DENIALS = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.NotFound]);

let b: TestBerth;
let id = "";
const tokens = {} as Record<Caller, string | undefined>;
const ids = {} as Record<string, string>;
let seq = 0;
const deniedRequestIds: string[] = [];

async function outcomeOf(p: Promise<unknown>): Promise<Outcome | Code> {
  try {
    await p;
    return "allowed";
  } catch (err) {
    const code = ConnectError.from(err).code;
    return DENIALS.has(code) ? (code as Outcome) : "allowed";
  }
}

async function drain(it: AsyncIterable<unknown>, max = 1) {
  let n = 0;
  for await (const _ of it) if (++n >= max) break;
}

beforeAll(async () => {
  b = await startTestBerth();
  const spec = {
    name: "matrix",
    type: "postgresql",
    server: "127.0.0.1",
    port: 1,
    database: "d",
    username: "u",
    password: "p",
  };
  id = (await b.api("/api/connections", { body: spec })).body.id;
  const other = (await b.api("/api/connections", { body: { ...spec, name: "matrix-other" } })).body.id;
  tokens.globalAdmin = b.adminToken;
  for (const c of ["unrelated", "viewer", "user", "editor", "admin", "owner"] as const) {
    const u = (await b.api("/api/users", { body: { username: `m-${c}`, password: `password-of-${c}` } }))
      .body;
    ids[c] = u.id;
    tokens[c] = (
      await b.api("/api/auth/login", {
        body: { username: `m-${c}`, password: `password-of-${c}` },
        token: null,
      })
    ).body.token;
    if (c !== "unrelated")
      await b.api(`/api/connections/${id}/access`, { body: { userId: u.id, accessLevel: c } });
  }
  tokens.tokenInScope = (
    await b.api("/api/tokens", { body: { name: "in-scope", connectionIds: [id], accessLevel: "user" } })
  ).body.token;
  tokens.tokenOutOfScope = (
    await b.api("/api/tokens", {
      body: { name: "out-of-scope", connectionIds: [other], accessLevel: "admin" },
    })
  ).body.token;
  await b.api(`/api/connections/${id}/access`, {
    body: { googleEmail: "revokable@example.com", accessLevel: "viewer" },
  });
});
afterAll(async () => b?.close());

interface RpcCase {
  name: string;
  need: Need;
  call: (caller: Caller, headers: Record<string, string>) => Promise<unknown>;
}

function rpcCases(): RpcCase[] {
  const t = createConnectTransport({ baseUrl: b.url, httpVersion: "1.1", useBinaryFormat: true });
  const conn = createClient(ConnectionService, t);
  const broker = createClient(BrokerService, t);
  // Bidirectional streams need HTTP/2.
  const brokerH2 = createClient(
    BrokerService,
    createConnectTransport({ baseUrl: b.url, httpVersion: "2", useBinaryFormat: true }),
  );
  const access = createClient(AccessService, t);
  const users = createClient(UserService, t);
  const audit = createClient(AuditService, t);
  const tok = createClient(TokenService, t);
  const admin = createClient(AdminService, t);
  const bundles = createClient(BundleService, t);
  const auth = createClient(AuthService, t);
  const health = createClient(Health, t);
  const pgSpec = {
    name: "x",
    type: Engine.POSTGRESQL,
    server: "127.0.0.1",
    port: 1,
    database: "d",
    username: "u",
    password: "p",
  };
  const target = { case: "id" as const, value: id };
  const stmt = { sql: "SELECT 1", params: [] };
  const lease = { case: "leaseId" as const, value: "lease_does_not_exist" };
  return [
    { name: "Health/Check", need: "public", call: (_c, headers) => health.check({}, { headers }) },
    {
      name: "AuthService/WhoAmI",
      need: "authenticated",
      call: (_c, headers) => auth.whoAmI({}, { headers }),
    },
    {
      name: "ConnectionService/ListConnections",
      need: "authenticated",
      call: (_c, headers) => conn.listConnections({}, { headers }),
    },
    {
      name: "ConnectionService/CreateConnection",
      need: "person",
      call: (c, headers) =>
        conn.createConnection({ spec: { ...pgSpec, name: `made-by-${c}-${seq++}` } }, { headers }),
    },
    {
      name: "ConnectionService/TestConnection (unsaved)",
      need: "person",
      call: (_c, headers) =>
        conn.testConnection({ target: { case: "spec", value: pgSpec }, timeoutMs: 500 }, { headers }),
    },
    {
      name: "ConnectionService/GetConnection",
      need: "viewer",
      call: (_c, headers) => conn.getConnection({ id }, { headers }),
    },
    {
      name: "ConnectionService/GetConnectionStatus",
      need: "viewer",
      call: (_c, headers) => conn.getConnectionStatus({ id }, { headers }),
    },
    {
      name: "ConnectionService/WatchConnectionStatus",
      need: "viewer",
      call: (_c, headers) => drain(conn.watchConnectionStatus({ id }, { headers })),
    },
    {
      name: "ConnectionService/TestConnection",
      need: "user",
      call: (_c, headers) => conn.testConnection({ target, timeoutMs: 500 }, { headers }),
    },
    {
      name: "ConnectionService/ValidateConnection",
      need: "user",
      call: (_c, headers) => conn.validateConnection({ target, timeoutMs: 500 }, { headers }),
    },
    {
      name: "ConnectionService/ResetPool",
      need: "editor",
      call: (_c, headers) => conn.resetPool({ id }, { headers }),
    },
    // A stale version: past authorization it is refused as a conflict, so nothing changes.
    {
      name: "ConnectionService/UpdateConnection",
      need: "editor",
      call: (_c, headers) =>
        conn.updateConnection({ id, spec: { ...pgSpec, name: "matrix" }, expectedVersion: 999 }, { headers }),
    },
    {
      name: "ConnectionService/DeleteConnection",
      need: "admin",
      call: (_c, headers) => conn.deleteConnection({ id, expectedVersion: 999 }, { headers }),
    },
    {
      name: "BrokerService/Execute",
      need: "user",
      call: (_c, headers) =>
        drain(broker.execute({ target: { case: "connectionId", value: id }, statement: stmt }, { headers })),
    },
    {
      name: "BrokerService/AcquireLease",
      need: "user",
      call: (_c, headers) => broker.acquireLease({ connectionId: id }, { headers }),
    },
    {
      name: "BrokerService/Session",
      need: "user",
      call: (_c, headers) =>
        drain(
          brokerH2.session(
            (async function* () {
              yield { request: { case: "open" as const, value: { connectionId: id } } };
            })(),
            { headers },
          ),
        ),
    },
    // A lease id alone grants nothing: one that is not the caller's is not found, for everyone.
    {
      name: "BrokerService/Execute (lease)",
      need: "nobody",
      call: (_c, headers) => drain(broker.execute({ target: lease, statement: stmt }, { headers })),
    },
    {
      name: "BrokerService/RenewLease",
      need: "nobody",
      call: (_c, headers) => broker.renewLease({ leaseId: lease.value }, { headers }),
    },
    {
      name: "BrokerService/ReleaseLease",
      need: "nobody",
      call: (_c, headers) => broker.releaseLease({ leaseId: lease.value }, { headers }),
    },
    {
      name: "BrokerService/Begin",
      need: "nobody",
      call: (_c, headers) => broker.begin({ leaseId: lease.value }, { headers }),
    },
    {
      name: "BrokerService/Commit",
      need: "nobody",
      call: (_c, headers) => broker.commit({ leaseId: lease.value }, { headers }),
    },
    {
      name: "BrokerService/Rollback",
      need: "nobody",
      call: (_c, headers) => broker.rollback({ leaseId: lease.value }, { headers }),
    },
    {
      name: "AccessService/ListAccess",
      need: "admin",
      call: (_c, headers) => access.listAccess({ connectionId: id }, { headers }),
    },
    {
      name: "AccessService/GrantAccess",
      need: "admin",
      call: (_c, headers) =>
        access.grantAccess(
          {
            connectionId: id,
            grantee: { case: "googleEmail", value: "matrix@example.com" },
            accessLevel: AccessLevel.VIEWER,
          },
          { headers },
        ),
    },
    {
      name: "AccessService/RevokeAccess",
      need: "admin",
      call: async (_c, headers) => {
        try {
          await access.revokeAccess(
            { connectionId: id, grantee: { case: "googleEmail", value: "revokable@example.com" } },
            { headers },
          );
        } finally {
          await b.api(`/api/connections/${id}/access`, {
            body: { googleEmail: "revokable@example.com", accessLevel: "viewer" },
          });
        }
      },
    },
    {
      name: "UserService/ListUsers",
      need: "globalAdmin",
      call: (_c, headers) => users.listUsers({}, { headers }),
    },
    {
      name: "UserService/CreateUser",
      need: "globalAdmin",
      call: (c, headers) =>
        users.createUser({ username: `new-${c}-${seq++}`, password: "a-long-password" }, { headers }),
    },
    {
      name: "UserService/UpdateUser",
      need: "globalAdmin",
      call: (_c, headers) => users.updateUser({ id: ids.unrelated! }, { headers }),
    },
    {
      name: "UserService/ClearSignInLocks",
      need: "globalAdmin",
      call: (_c, headers) => users.clearSignInLocks({ username: "someone" }, { headers }),
    },
    {
      name: "UserService/DeleteUser",
      need: "globalAdmin",
      call: async (_c, headers) => {
        const victim = (
          await b.api("/api/users", { body: { username: `victim-${seq++}`, password: "a-long-password" } })
        ).body.id;
        await users.deleteUser({ id: victim }, { headers });
      },
    },
    {
      name: "AuditService/ListAuditEvents",
      need: "globalAdmin",
      call: (_c, headers) => audit.listAuditEvents({ pageSize: 1 }, { headers }),
    },
    {
      // One connection's events: its admins and owners may read them too.
      name: "AuditService/ListAuditEvents",
      need: "admin",
      call: (_c, headers) => audit.listAuditEvents({ pageSize: 1, connectionId: id }, { headers }),
    },
    {
      name: "AuditService/VerifyAuditLog",
      need: "globalAdmin",
      call: (_c, headers) => audit.verifyAuditLog({}, { headers }),
    },
    {
      name: "AuditService/GetAuditHead",
      need: "globalAdmin",
      call: (_c, headers) => audit.getAuditHead({}, { headers }),
    },
    {
      name: "TokenService/ListServiceTokens",
      need: "globalAdmin",
      call: (_c, headers) => tok.listServiceTokens({}, { headers }),
    },
    {
      name: "TokenService/CreateServiceToken",
      need: "globalAdmin",
      call: (_c, headers) => tok.createServiceToken({ name: `t-${seq++}`, connectionIds: [id] }, { headers }),
    },
    {
      name: "TokenService/RevokeServiceToken",
      need: "globalAdmin",
      call: async (_c, headers) => {
        const victim = (
          await b.api("/api/tokens", { body: { name: `victim-${seq++}`, connectionIds: [id] } })
        ).body.serviceToken.id;
        await tok.revokeServiceToken({ id: victim }, { headers });
      },
    },
    {
      name: "AdminService/ListInstances",
      need: "globalAdmin",
      call: (_c, headers) => admin.listInstances({}, { headers }),
    },
    {
      name: "AdminService/GetKeyStatus",
      need: "globalAdmin",
      call: (_c, headers) => admin.getKeyStatus({}, { headers }),
    },
    {
      name: "AdminService/RotateKey",
      need: "globalAdmin",
      call: (_c, headers) => admin.rotateKey({}, { headers }),
    },
    {
      name: "AdminService/RewrapSecrets",
      need: "globalAdmin",
      call: async (_c, headers) => {
        for await (const _ of admin.rewrapSecrets({}, { headers })) {
          // drained: the refusal, if any, arrives while reading
        }
      },
    },
    {
      name: "AdminService/RetireKeyVersions",
      need: "globalAdmin",
      call: (_c, headers) => admin.retireKeyVersions({ minVersion: 1 }, { headers }),
    },
    {
      // Credentials leave in a bundle: the admin level on each connection.
      name: "BundleService/ExportBundle",
      need: "admin",
      call: (_c, headers) =>
        bundles.exportBundle({ connectionIds: [id], passphrase: "matrix passphrase 1" }, { headers }),
    },
    {
      // What a create takes (a person); the bundle is no bundle, so past authorization it is refused.
      name: "BundleService/ImportBundle",
      need: "person",
      call: (_c, headers) =>
        bundles.importBundle({ bundle: new Uint8Array(3), passphrase: "matrix passphrase 1" }, { headers }),
    },
  ];
}

/** Covered by their own suites (sign-in, sign-out, health) rather than by this matrix; public by design. */
const ELSEWHERE = new Set([
  "AuthService/Login",
  "AuthService/LoginWithGoogle",
  "AuthService/Logout",
  "Health/List",
  "Health/Watch",
]);

function headersFor(c: Caller, requestId: string): Record<string, string> {
  const token = tokens[c];
  return { "x-request-id": requestId, ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

describe("authorization matrix", () => {
  it("lists every method Berth serves", () => {
    const listed = new Set(rpcCases().map((c) => c.name));
    const missing = SERVED.flatMap((s) => s.methods.map((m) => `${s.name}/${m.name}`)).filter(
      (m) => !listed.has(m) && !ELSEWHERE.has(m),
    );
    expect(missing).toEqual([]);
  });

  it("every RPC × every kind of caller", async () => {
    const wrong: string[] = [];
    for (const rc of rpcCases()) {
      for (const c of CALLERS) {
        const requestId = `rpc-${seq++}`;
        const got = await outcomeOf(rc.call(c, headersFor(c, requestId)));
        const want = expected(rc.need, c);
        if (got !== want)
          wrong.push(
            `${rc.name} as ${c}: got ${got === "allowed" ? got : Code[got]}, want ${want === "allowed" ? want : Code[want]}`,
          );
        if (got !== "allowed") deniedRequestIds.push(requestId);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it("every REST route × every kind of caller", async () => {
    const routes: [string, string, Need, unknown?][] = [
      ["GET", "/api/auth/me", "authenticated"],
      ["GET", "/api/connections", "authenticated"],
      [
        "POST",
        "/api/connections/test",
        "person",
        {
          name: "x",
          type: "postgresql",
          server: "127.0.0.1",
          port: 1,
          database: "d",
          username: "u",
          password: "p",
        },
      ],
      ["GET", `/api/connections/${id}`, "viewer"],
      ["GET", `/api/connections/${id}/status`, "viewer"],
      ["POST", `/api/connections/${id}/test`, "user", { timeoutMs: 500 }],
      ["POST", `/api/connections/${id}/validate`, "user", { timeoutMs: 500 }],
      ["POST", `/api/connections/${id}/reset`, "editor", {}],
      [
        "PUT",
        `/api/connections/${id}`,
        "editor",
        { name: "matrix", type: "postgresql", server: "127.0.0.1", database: "d", version: 999 },
      ],
      ["DELETE", `/api/connections/${id}?version=999`, "admin"],
      ["GET", `/api/connections/${id}/access`, "admin"],
      [
        "POST",
        `/api/connections/${id}/access`,
        "admin",
        { googleEmail: "matrix@example.com", accessLevel: "viewer" },
      ],
      ["GET", "/api/users", "globalAdmin"],
      ["PATCH", `/api/users/${ids.unrelated}`, "globalAdmin", {}],
      ["GET", "/api/audit?pageSize=1", "globalAdmin"],
      ["GET", `/api/audit?pageSize=1&connectionId=${id}`, "admin"],
      ["POST", "/api/audit/verify", "globalAdmin", {}],
      ["GET", "/api/audit/head", "globalAdmin"],
      ["GET", "/api/tokens", "globalAdmin"],
      ["GET", "/api/instances", "globalAdmin"],
      ["GET", "/api/admin/keys", "globalAdmin"],
      ["POST", "/api/admin/keys/retire", "globalAdmin", { minVersion: 1 }],
      ["POST", "/api/bundles/export", "admin", { connectionIds: [id], passphrase: "matrix passphrase 1" }],
      ["POST", "/api/bundles/import", "person", { bundle: "AAAA", passphrase: "matrix passphrase 1" }],
    ];
    const STATUS: Record<string, number> = {
      [Code.Unauthenticated]: 401,
      [Code.PermissionDenied]: 403,
      [Code.NotFound]: 404,
    };
    const wrong: string[] = [];
    for (const [method, path, need, body] of routes) {
      for (const c of CALLERS) {
        const requestId = `rest-${seq++}`;
        const r = await b.api(path, {
          method,
          ...(body === undefined ? {} : { body }),
          token: tokens[c] ?? null,
          headers: { "x-request-id": requestId },
        });
        const want = expected(need, c);
        const denied = [401, 403, 404].includes(r.status);
        const ok = want === "allowed" ? !denied : r.status === STATUS[want];
        if (!ok)
          wrong.push(
            `${method} ${path} as ${c}: got ${r.status}, want ${want === "allowed" ? "past authorization" : STATUS[want]}`,
          );
        if (denied) deniedRequestIds.push(requestId);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it("every denied call left exactly one audit event", async () => {
    expect(deniedRequestIds.length).toBeGreaterThan(100);
    const count = new Map<string, number>();
    let after = 0;
    for (;;) {
      const page = (await b.api(`/api/audit?pageSize=1000&afterSeq=${after}`)).body.events as {
        seq: number;
        requestId: string | null;
        outcome: string;
      }[];
      for (const e of page)
        if (e.requestId)
          count.set(e.requestId, (count.get(e.requestId) ?? 0) + (e.outcome === "denied" ? 1 : 0));
      // Each read is itself audited: a short page is the end.
      if (page.length < 1000) break;
      after = page[page.length - 1]!.seq;
    }
    const notOne = deniedRequestIds.filter((r) => count.get(r) !== 1);
    expect(notOne).toEqual([]);
  });
});
