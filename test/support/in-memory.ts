import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { creatorPolicy } from "../../src/access/policy.js";
import { TtlCache } from "../../src/access/ttl-cache.js";
import { createConnectionRegistry } from "../../src/connections/registry.js";
import { LocalKeyring } from "../../src/crypto/local-keyring.js";
import { driverFor } from "../../src/drivers/registry.js";
import { AuthService } from "../../src/gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "../../src/gen/berth/v1/connection_service_pb.js";
import { createLocalUser } from "../../src/identity/users.js";
import { createLogger } from "../../src/observability/logger.js";
import { createDataPlane, type DataPlane } from "../../src/pools/data-plane.js";
import { createInterceptors, registerRoutes } from "../../src/server/routes.js";
import { createAuthService } from "../../src/services/auth-service.js";
import { createBrokerService } from "../../src/services/broker-service.js";
import { createConnectionService } from "../../src/services/connection-service.js";
import { createHealthService } from "../../src/services/health-service.js";
import { openSqliteStore } from "../../src/store/store.js";

/**
 * The whole RPC stack — interceptors, services, registry, data plane, a real SQLite store — behind
 * an in-memory transport: no sockets, but every layer Berth runs (DESIGN §2 rule 8).
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
  let dataPlane: DataPlane | undefined;
  const registry = createConnectionRegistry({
    db: store.db,
    keys,
    policy: creatorPolicy,
    drivers: driverFor,
    testTimeoutMs: 3000,
    onChanged: (id) => dataPlane?.connectionChanged(id),
  });
  const accessCache = new TtlCache<true>({ ttlMs: 5_000 });
  const plane = createDataPlane(registry, accessCache, { connectTimeoutMs: 3_000, healthIntervalMs: 10_000 });
  dataPlane = plane;
  const services = {
    connection: createConnectionService({ registry, dataPlane: plane }),
    auth: createAuthService({ db: store.db, sessionTtlMs: 60_000, failureDelayMs: 0 }),
    broker: createBrokerService({
      registry,
      pools: plane.pools,
      leases: plane.leases,
      accessCache,
      statementTimeoutMs: 10_000,
      batchBytes: 64 * 1024,
      cancelGraceMs: 1_000,
    }),
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
    broker: createClient(BrokerService, transport),
    dataPlane: plane,
    admin: headersFor(await tokenOf("admin", "admin-password-1")),
    alice: headersFor(await tokenOf("alice", "alice-password-1")),
    bob: headersFor(await tokenOf("bob", "bob-password-12")),
    tokenOf,
    headersFor,
  };
}
