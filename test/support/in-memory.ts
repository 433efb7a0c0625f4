import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { creatorPolicy } from "../../src/access/policy.js";
import { createConnectionRegistry } from "../../src/connections/registry.js";
import { LocalKeyring } from "../../src/crypto/local-keyring.js";
import { driverFor } from "../../src/drivers/registry.js";
import { AuthService } from "../../src/gen/berth/v1/auth_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { createLocalUser } from "../../src/identity/users.js";
import { createLogger } from "../../src/observability/logger.js";
import { createInterceptors, registerRoutes } from "../../src/server/routes.js";
import { createAuthService } from "../../src/services/auth-service.js";
import { createConnectionService } from "../../src/services/connection-service.js";
import { createHealthService } from "../../src/services/health-service.js";
import { openSqliteStore } from "../../src/store/store.js";

/**
 * The whole RPC stack — interceptors, services, registry, a real SQLite store — behind an
 * in-memory transport: no sockets, but every layer Berth runs (DESIGN §2 rule 8).
 */
export async function inMemoryBerth() {
  const dir = await mkdtemp(join(tmpdir(), "berth-mem-"));
  const store = await openSqliteStore(dir);
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
  const registry = createConnectionRegistry({
    db: store.db,
    keys,
    policy: creatorPolicy,
    drivers: driverFor,
    testTimeoutMs: 3000,
  });
  const services = {
    connection: createConnectionService({ registry }),
    auth: createAuthService({ db: store.db, sessionTtlMs: 60_000, failureDelayMs: 0 }),
    health: createHealthService({ ready: () => true, services: [] }),
  };
  const transport = createRouterTransport(registerRoutes(services), {
    router: { interceptors: createInterceptors({ log, db: store.db }) },
  });
  const auth = createClient(AuthService, transport);
  const now = new Date();
  await createLocalUser(store.db, "admin", "admin-password-1", "admin", now);
  await createLocalUser(store.db, "alice", "alice-password-1", "member", now);
  await createLocalUser(store.db, "bob", "bob-password-12", "member", now);
  const tokenOf = async (username: string, password: string) =>
    (await auth.login({ username, password })).token;
  const headersFor = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  return {
    store,
    logs,
    transport,
    auth,
    connections: createClient(ConnectionService, transport),
    admin: headersFor(await tokenOf("admin", "admin-password-1")),
    alice: headersFor(await tokenOf("alice", "alice-password-1")),
    bob: headersFor(await tokenOf("bob", "bob-password-12")),
    tokenOf,
    headersFor,
  };
}
