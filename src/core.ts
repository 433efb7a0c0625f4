import { createAccessManager } from "./access/grants.js";
import { grantsPolicy } from "./access/policy.js";
import { TtlCache } from "./access/ttl-cache.js";
import { type AuditLog, createAuditLog } from "./audit/audit-log.js";
import type { Config } from "./config/config.js";
import { type ConnectionRegistry, createConnectionRegistry } from "./connections/registry.js";
import type { KeyProvider } from "./crypto/key-provider.js";
import { KeySet } from "./crypto/key-set.js";
import { driverFor } from "./engines/index.js";
import { memoryLoginGuard, redisLoginGuard } from "./identity/login-throttle.js";
import type { Principal } from "./identity/principal.js";
import { createServiceTokens } from "./identity/service-tokens.js";
import { createUserAdmin } from "./identity/user-admin.js";
import { createCacheBus } from "./limits/cache-bus.js";
import { rateLimitInterceptor } from "./limits/rate-limits.js";
import type { Logger } from "./observability/logger.js";
import { createDataPlane, type DataPlane } from "./pools/data-plane.js";
import { createInterceptors } from "./server/routes.js";
import { HEALTH_CHECKED, type Services } from "./server/service-table.js";
import { createAccessService } from "./services/access-service.js";
import { createAdminService } from "./services/admin-service.js";
import { createAuditService } from "./services/audit-service.js";
import { createAuthService } from "./services/auth-service.js";
import { createBrokerService } from "./services/broker-service.js";
import { createConnectionService } from "./services/connection-service.js";
import { createHealthService } from "./services/health-service.js";
import { createTokenService } from "./services/token-service.js";
import { createUserService } from "./services/user-service.js";
import type { Db } from "./store/store.js";

/** The settings the core uses: a slice of Config, so tests can pass their own. */
export type CoreSettings = Pick<
  Config,
  | "testTimeoutMs"
  | "sessionTtlMs"
  | "authCacheTtlMs"
  | "connectTimeoutMs"
  | "healthIntervalMs"
  | "statementTimeoutMs"
  | "rowBatchBytes"
  | "cancelGraceMs"
  | "shutdownGraceMs"
  | "loginFailureLimit"
  | "loginSourceFailureLimit"
  | "loginFailureWindowMs"
  | "loginFailureDelayMs"
  | "google"
  | "redisUrl"
  | "rateLimits"
  | "requireTls"
> &
  Partial<Pick<Config, "redisCommandTimeoutMs">>;

export interface Core {
  registry: ConnectionRegistry;
  dataPlane: DataPlane;
  services: Services;
  interceptors: ReturnType<typeof createInterceptors>;
  audit: AuditLog;
  /** Resolves once Redis is connected (or after a short wait if it is not there). */
  ready(): Promise<void>;
  /** Rejects when Redis is configured and does not answer in time; undefined without Redis. */
  pingRedis: (() => Promise<void>) | undefined;
  /** Disconnects from Redis. */
  close(): Promise<void>;
}

/**
 * Every service and the interceptor chain, wired once. The composition root (app.ts) puts it behind
 * the listeners; the in-memory test stack puts it behind a router transport — the same wiring.
 */
export function createCore(deps: {
  db: Db;
  keys: KeyProvider;
  log: Logger;
  settings: CoreSettings;
  ready: () => boolean;
}): Core {
  const { db, settings } = deps;
  const keys = deps.keys instanceof KeySet ? deps.keys : new KeySet(deps.keys);
  // Caches that keep the per-statement path off the store; invalidated on change (and by TTL).
  const sessionCache = new TtlCache<Principal>({ ttlMs: settings.authCacheTtlMs });
  const accessCache = new TtlCache<true>({ ttlMs: settings.authCacheTtlMs });
  // Invalidations reach every instance through Redis when it is configured (`kind|key`).
  const bus = createCacheBus(
    settings.redisUrl,
    (message) => {
      const [kind, key = ""] = message.split("|");
      if (kind === "tag") {
        sessionCache.invalidateTag(key);
        accessCache.invalidateTag(key);
      } else if (kind === "session") {
        sessionCache.delete(key);
      } else if (kind === "connection") {
        dataPlane?.connectionChanged(key);
      }
    },
    settings.redisCommandTimeoutMs,
  );
  let dataPlane: DataPlane | undefined;
  const registry = createConnectionRegistry({
    db,
    keys,
    policy: grantsPolicy(db),
    drivers: driverFor,
    testTimeoutMs: settings.testTimeoutMs,
    onChanged: (id) => bus.publish(`connection|${id}`),
    requireTls: settings.requireTls,
  });
  const audit = createAuditLog(db);
  const plane = createDataPlane(registry, accessCache, {
    connectTimeoutMs: settings.connectTimeoutMs,
    healthIntervalMs: settings.healthIntervalMs,
    onCredentialsDecrypted: (id) => audit.append(systemEvent("credentials.decrypt", id, "pool")),
  });
  dataPlane = plane;
  const access = createAccessManager({
    db,
    registry,
    onAccessChanged: (id) => bus.publish(`tag|connection:${id}`),
  });
  const throttleOptions = {
    limit: settings.loginFailureLimit,
    sourceLimit: settings.loginSourceFailureLimit,
    windowMs: settings.loginFailureWindowMs,
    failureDelayMs: settings.loginFailureDelayMs,
  };
  const loginGuard = bus.redis
    ? redisLoginGuard(bus.redis, throttleOptions)
    : memoryLoginGuard(throttleOptions);
  const users = createUserAdmin({
    db,
    clearSignInLocks: (account) => loginGuard.clear(account),
    // A disabled user, a new password or a new role takes effect at once, not after the caches' TTL.
    onUserChanged: (id) => bus.publish(`tag|user:${id}`),
  });
  // Leases are audited when they open and end (their statements are not, one by one).
  plane.leases.on("opened", (lease) => {
    void audit
      .append({ ...systemEvent("lease.open", lease.connectionId, ""), actorId: lease.principalId })
      .catch(() => {});
  });
  plane.leases.on("ended", (lease, reason) => {
    void audit
      .append({ ...systemEvent("lease.end", lease.connectionId, reason), actorId: lease.principalId })
      .catch(() => {});
  });
  const serviceTokens = createServiceTokens({
    db,
    // A revoked token stops working at once, not when its cached principal expires.
    onRevoked: (tokenHash, tokenId) => {
      bus.publish(`session|${tokenHash}`);
      // Principals cached for a client certificate carry the token's user tag.
      bus.publish(`tag|user:service:${tokenId}`);
    },
  });
  const services: Services = {
    token: createTokenService({ tokens: serviceTokens }),
    admin: createAdminService({ db, keys, audit }),
    audit: createAuditService({ audit, levelOf: (p, id) => registry.levelOf(p, id) }),
    access: createAccessService({ access }),
    user: createUserService({ users }),
    connection: createConnectionService({
      registry,
      dataPlane: plane,
      resetGraceMs: settings.shutdownGraceMs,
    }),
    auth: createAuthService({
      db,
      sessionTtlMs: settings.sessionTtlMs,
      forgetSession: (hash) => bus.publish(`session|${hash}`),
      failureDelayMs: settings.loginFailureDelayMs,
      google: settings.google,
      throttle: loginGuard,
    }),
    broker: createBrokerService({
      registry,
      pools: plane.pools,
      leases: plane.leases,
      accessCache,
      statementTimeoutMs: settings.statementTimeoutMs,
      batchBytes: settings.rowBatchBytes,
      cancelGraceMs: settings.cancelGraceMs,
      observeQuery: (id, ms) => plane.metrics.observeQuery(id, ms),
    }),
    health: createHealthService({ ready: deps.ready, services: HEALTH_CHECKED.map((s) => s.typeName) }),
  };
  const interceptors = createInterceptors({
    log: deps.log,
    db,
    sessionCache,
    countError: (kind, reason) => plane.metrics.countError(kind, reason),
    audit,
    serviceTokens,
    ...(settings.rateLimits === "rfc" ? { rateLimit: rateLimitInterceptor({ redis: bus.redis }) } : {}),
  });
  return {
    registry,
    dataPlane: plane,
    services,
    interceptors,
    audit,
    ready: bus.ready,
    pingRedis: bus.ping,
    close: bus.close,
  };
}

/** An event Berth records on its own account (not a call): actor "berth" unless set. */
function systemEvent(action: string, target: string, reason: string) {
  return {
    actorId: "berth",
    actorName: "",
    source: "",
    transport: "",
    action,
    target,
    outcome: "ok",
    reason,
    requestId: "",
  };
}
