import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createCore } from "../../src/core.js";
import { LocalKeyring } from "../../src/crypto/local-keyring.js";
import { AccessService } from "../../src/gen/berth/v1/access_service_pb.js";
import { AuthService } from "../../src/gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { createLocalUser } from "../../src/identity/users.js";
import { createLogger } from "../../src/observability/logger.js";
import { registerRoutes } from "../../src/server/routes.js";
import { openTestStore } from "./test-store.js";

/**
 * The whole RPC stack — interceptors, services, registry, data plane, a real store (SQLite, or
 * PostgreSQL in the postgres project: test-store.ts) — behind an in-memory transport: no sockets, but every layer Berth runs (DESIGN §2 rule 8).
 */
export async function inMemoryBerth() {
  const dir = await mkdtemp(join(tmpdir(), "berth-mem-"));
  const store = await openTestStore(dir);
  const logs: string[] = [];
  const log = createLogger(
    "info",
    new Writable({
      write(c, _e, cb) {
        logs.push(String(c));
        cb();
      },
    }),
  );
  const keys = new LocalKeyring(new Map([[1, Buffer.alloc(32, 5)]]), 1);
  const { dataPlane, services, interceptors } = createCore({
    db: store.db,
    keys,
    log,
    ready: () => true,
    settings: {
      loginFailureLimit: 100,
      loginSourceFailureLimit: 300,
      loginFailureWindowMs: 3_600_000,
      loginFailureDelayMs: 0,
      redisUrl: undefined,
      rateLimits: "off",
      requireTls: false,
      google: {
        clientIds: [],
        jwksUrl: "http://127.0.0.1:1/jwks",
        issuers: [],
        hostedDomain: undefined,
        allowedDomains: [],
      },
      testTimeoutMs: 3_000,
      sessionTtlMs: 60_000,
      authCacheTtlMs: 5_000,
      connectTimeoutMs: 3_000,
      healthIntervalMs: 10_000,
      statementTimeoutMs: 10_000,
      rowBatchBytes: 64 * 1024,
      cancelGraceMs: 1_000,
      shutdownGraceMs: 2_000,
    },
  });
  const transport = createRouterTransport(registerRoutes(services), { router: { interceptors } });
  const auth = createClient(AuthService, transport);
  const now = new Date();
  await createLocalUser(store.db, "admin", "admin-password-1", "admin", now);
  await createLocalUser(store.db, "alice", "alice-password-1", "member", now);
  await createLocalUser(store.db, "bob", "bob-password-12", "member", now);
  await createLocalUser(store.db, "carol", "carol-password-1", "member", now);
  const tokenOf = async (username: string, password: string) =>
    (await auth.login({ username, password })).token;
  const headersFor = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  return {
    store,
    logs,
    transport,
    auth,
    connections: createClient(ConnectionService, transport),
    broker: createClient(BrokerService, transport),
    dataPlane,
    /** The key provider the core signs audit events with (to verify the chain directly). */
    keys,
    admin: headersFor(await tokenOf("admin", "admin-password-1")),
    alice: headersFor(await tokenOf("alice", "alice-password-1")),
    bob: headersFor(await tokenOf("bob", "bob-password-12")),
    carol: headersFor(await tokenOf("carol", "carol-password-1")),
    access: createClient(AccessService, transport),
    tokenOf,
    headersFor,
  };
}
