import type { Redis } from "ioredis";
import { createAccessManager } from "./access/grants.js";
import { grantsPolicy } from "./access/policy.js";
import {
  createRevocationWatch,
  type Invalidation,
  invalidationOf,
  type OpenAccess,
} from "./access/revocation-watch.js";
import { TtlCache } from "./access/ttl-cache.js";
import { type AuditLog, createAuditLog } from "./audit/audit-log.js";
import { auditLeases, auditRoles, replicaRefusedReporter, systemEvent } from "./audit/data-plane-events.js";
import { openAuditExport } from "./audit/export.js";
import type { Config } from "./config/config.js";
import { type ConnectionRegistry, createConnectionRegistry } from "./connections/registry.js";
import { createTargetPolicy } from "./connections/target-policy.js";
import type { KeyProvider } from "./crypto/key-provider.js";
import { KeySet } from "./crypto/key-set.js";
import { driverFor } from "./engines/index.js";
import { createFrontDoorAccounts, type FrontDoorAccount } from "./identity/front-door-accounts.js";
import { type LoginGuard, memoryLoginGuard, redisLoginGuard } from "./identity/login-throttle.js";
import type { Principal } from "./identity/principal.js";
import { createPrincipalRecheck } from "./identity/principal-recheck.js";
import { createServiceTokens } from "./identity/service-tokens.js";
import { createUserAdmin } from "./identity/user-admin.js";
import { createCacheBus } from "./limits/cache-bus.js";
import { RedisSessionBudget } from "./limits/connection-budget.js";
import { createRateLimits } from "./limits/rate-limits.js";
import type { Logger } from "./observability/logger.js";
import { createDataPlane, type DataPlane } from "./pools/data-plane.js";
import type { Lease } from "./pools/lease.js";
import { createInterceptors } from "./server/routes.js";
import { HEALTH_CHECKED, SERVED, type Services } from "./server/service-table.js";
import { createAccessService } from "./services/access-service.js";
import { createAdminService, type InstanceDirectory } from "./services/admin-service.js";
import { createAuditService } from "./services/audit-service.js";
import { createAuthService } from "./services/auth-service.js";
import { createBrokerService } from "./services/broker-service.js";
import { createBundleService } from "./services/bundle-service.js";
import { checkObservation } from "./services/check-observation.js";
import { createConnectionService } from "./services/connection-service.js";
import type { FrontDoorClientsSource, FrontDoorClientsView } from "./services/front-door-clients.js";
import { createHealthService } from "./services/health-service.js";
import { InFlightStatements } from "./services/in-flight-statements.js";
import { createReflectionServices } from "./services/reflection-service.js";
import { createTokenService } from "./services/token-service.js";
import { createUserService } from "./services/user-service.js";
import { forgetRoleMemory, loadRoleMemory, saveRoleMemory } from "./store/role-memory-repository.js";
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
  // Optional so that tests may leave them out: the defaults (24 h; the default denials; 300 ms) apply.
  Partial<
    Pick<
      Config,
      | "leaseMaxLifetimeMs"
      | "targets"
      | "redisCommandTimeoutMs"
      | "audit"
      | "budgetTtlMs"
      | "createInitializesPool"
    >
  >;

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
  /** What the PostgreSQL front door signs clients in and re-checks them with. */
  frontDoor: FrontDoorCore;
  /** Disconnects from Redis. */
  close(): Promise<void>;
}

export interface FrontDoorCore {
  lookup(name: string): Promise<FrontDoorAccount | undefined>;
  certificate(commonName: string): Promise<Principal>;
  throttle: LoginGuard;
  failureDelayMs: number;
  /** Open clients the revocation watch must re-check. */
  watch(source: () => Iterable<OpenAccess>): void;
  opened(access: OpenAccess): void;
  /**
   * Where connection statuses read the front door's clients from (the services exist before the
   * front door starts); until it is called, statuses show no front door.
   */
  reportClients(source: (connectionId: string) => FrontDoorClientsView): void;
}

/**
 * Invalidations reach every instance through Redis when it is configured (`kind|key`): cached
 * sessions and access answers are dropped, and what is already open is re-checked too (a revoke
 * ends open leases and Session streams).
 */
function invalidationBus(
  settings: CoreSettings,
  sessionCache: TtlCache<Principal>,
  accessCache: TtlCache<true>,
  on: {
    connectionChanged(id: string): void;
    keysChanged(): void;
    revoked(change: NonNullable<ReturnType<typeof invalidationOf>>): void;
  },
) {
  return createCacheBus(
    settings.redisUrl,
    (message) => {
      const [kind, key = ""] = message.split("|");
      if (kind === "tag") sessionCache.invalidateTag(key);
      if (kind === "tag") accessCache.invalidateTag(key);
      if (kind === "session") sessionCache.invalidate(key);
      if (kind === "connection") on.connectionChanged(key);
      if (kind === "keys") on.keysChanged();
      const change = invalidationOf(message);
      if (change) on.revoked(change);
    },
    settings.redisCommandTimeoutMs,
  );
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
  /** The instances on this store, for AdminService.ListInstances. */
  instances?: InstanceDirectory;
}): Core {
  const { db, settings } = deps;
  const keys = deps.keys instanceof KeySet ? deps.keys : new KeySet(deps.keys);
  // Caches that keep the per-statement path off the store; invalidated on change (and by TTL).
  const sessionCache = new TtlCache<Principal>({ ttlMs: settings.authCacheTtlMs });
  const accessCache = new TtlCache<true>({ ttlMs: settings.authCacheTtlMs });
  const bus = invalidationBus(settings, sessionCache, accessCache, {
    connectionChanged: (id) => dataPlane?.connectionChanged(id),
    revoked: (change) => void revocations?.changed(change),
    // Another instance rotated or retired a key of the keyring in the shared store.
    keysChanged: () => void keys.refresh().catch((err: unknown) => keysNotReread(deps.log, err)),
  });
  // A rotation or retirement here is announced to the others (`keys|<new primary>`).
  keys.onChange((version) => bus.publish(`keys|${version}`));
  let dataPlane: DataPlane | undefined;
  let revocations: ReturnType<typeof watchRevocations> | undefined;
  // One policy for every way Berth reaches a database: tests, validations, pools, health checks.
  const targets = createTargetPolicy(settings.targets);
  const budget = sharedBudget(settings, deps.log);
  const registry = createConnectionRegistry({
    db,
    keys,
    policy: grantsPolicy(db),
    drivers: driverFor,
    testTimeoutMs: settings.testTimeoutMs,
    onChanged: (id) => bus.publish(`connection|${id}`),
    requireTls: settings.requireTls,
    targets,
    observeCheck: (...check) => dataPlane?.metrics.observeCheck(checkObservation(...check)),
  });
  const audit = openAudit(db, keys, settings, deps.log);
  const plane = createDataPlane(registry, accessCache, {
    connectTimeoutMs: settings.connectTimeoutMs,
    healthIntervalMs: settings.healthIntervalMs,
    ...(settings.leaseMaxLifetimeMs ? { leaseMaxLifetimeMs: settings.leaseMaxLifetimeMs } : {}),
    onCredentialsDecrypted: (id) => audit.append(systemEvent("credentials.decrypt", id, "pool")),
    targets,
    budget,
    onReplicaRefused: replicaRefusedReporter(deps.log, audit),
    roleMemory: storedRoleMemory(db),
  });
  dataPlane = plane;
  const access = createAccessManager({
    db,
    registry,
    onAccessChanged: (id) => bus.publish(`tag|connection:${id}`),
  });
  // The problem is free text: the event is counted without it (it is in the Verify answer).
  const onChainBroken = () => plane.metrics.securityEvent("audit_chain_broken");
  const loginGuard = loginGuardFor(settings, bus.redis);
  const users = createUserAdmin({
    db,
    clearSignInLocks: (account) => loginGuard.clear(account),
    // A disabled user, a new password or a new role takes effect at once, not after the caches' TTL.
    onUserChanged: (id) => bus.publish(`tag|user:${id}`),
  });
  auditLeases(plane, audit, deps.log);
  auditRoles(plane, audit, deps.log);
  const serviceTokens = createServiceTokens({
    db,
    log: deps.log,
    // A revoked token stops working at once, not when its cached principal expires.
    onRevoked: (tokenHash, tokenId) => {
      bus.publish(`session|${tokenHash}`);
      // Principals cached for a client certificate carry the token's user tag.
      bus.publish(`tag|user:service:${tokenId}`);
    },
  });
  revocations = watchRevocations({ db, plane, log: deps.log });
  const frontDoor = frontDoorCore({ db, serviceTokens, loginGuard, settings, watcher: revocations });
  const rl = settings.rateLimits === "rfc" ? createRateLimits({ redis: bus.redis }) : undefined;
  const services: Services = {
    token: createTokenService({ tokens: serviceTokens }),
    admin: createAdminService({ db, keys, audit, ...(deps.instances ? { instances: deps.instances } : {}) }),
    audit: createAuditService({ audit, levelOf: (p, id) => registry.levelOf(p, id), onChainBroken }),
    access: createAccessService({ access }),
    user: createUserService({ users }),
    bundle: createBundleService({ db, registry, audit, requireTls: settings.requireTls, budget: rl?.budget }),
    connection: createConnectionService({
      registry,
      dataPlane: plane,
      resetGraceMs: settings.shutdownGraceMs,
      initializePoolOnCreate: settings.createInitializesPool ?? false,
      frontDoorClients: frontDoor.clients,
    }),
    auth: createAuthService({
      db,
      sessionTtlMs: settings.sessionTtlMs,
      forgetSession: (hash) => bus.publish(`session|${hash}`),
      failureDelayMs: settings.loginFailureDelayMs,
      google: settings.google,
      throttle: loginGuard,
      log: deps.log,
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
      inFlight: revocations.inFlight,
    }),
    health: createHealthService({ ready: deps.ready, services: HEALTH_CHECKED.map((s) => s.typeName) }),
    ...createReflectionServices(SERVED),
  };
  const interceptors = createInterceptors({
    log: deps.log,
    db,
    sessionCache,
    countError: (kind, reason, method) => plane.metrics.countError(kind, reason, method),
    observeRequest: plane.metrics.observeRequest,
    audit,
    serviceTokens,
    ...(rl ? { rateLimit: rl.interceptor } : {}),
  });
  return {
    registry,
    dataPlane: plane,
    frontDoor: frontDoor.core,
    services,
    interceptors,
    audit,
    ready: () => Promise.all([bus.ready(), budget?.ready()]).then(() => {}),
    pingRedis: bus.ping,
    close: async () => {
      revocations?.stop();
      await audit.close();
      await budget?.close();
      await bus.close();
    },
  };
}

/** Where each connection's role memory outlives Berth: the store's connection_roles. */
function storedRoleMemory(db: Db) {
  return {
    load: (id: string) => loadRoleMemory(db, id),
    save: (id: string, memory: Parameters<typeof saveRoleMemory>[2]) => saveRoleMemory(db, id, memory),
    clear: (id: string) => forgetRoleMemory(db, id),
  };
}

function keysNotReread(log: Logger, err: unknown): void {
  log.warn({ error: (err as Error).message }, "the keyring could not be re-read from the store");
}

/**
 * With Redis, one budget of sessions per connection and host shared by every instance (README: "One
 * connection budget across instances"); without it, each pool's maxPoolSize is the bound, at no cost.
 */
function sharedBudget(settings: CoreSettings, log: Logger): RedisSessionBudget | undefined {
  if (!settings.redisUrl) return undefined;
  return new RedisSessionBudget({
    redisUrl: settings.redisUrl,
    ttlMs: settings.budgetTtlMs ?? 15_000,
    commandTimeoutMs: settings.redisCommandTimeoutMs ?? 300,
    onError: (err, what) => log.warn({ error: (err as Error).message }, `${what} failed`),
  });
}

/**
 * What the PostgreSQL front door signs clients in and re-checks them with, and where connection
 * statuses read its clients from once it has started (the services are made before it).
 */
function frontDoorCore(deps: {
  db: Db;
  serviceTokens: ReturnType<typeof createServiceTokens>;
  loginGuard: LoginGuard;
  settings: CoreSettings;
  watcher: ReturnType<typeof watchRevocations>;
}): { core: FrontDoorCore; clients: FrontDoorClientsSource } {
  const { serviceTokens, watcher } = deps;
  const accounts = createFrontDoorAccounts({ db: deps.db });
  let reported: ((connectionId: string) => FrontDoorClientsView) | undefined;
  return {
    core: {
      lookup: (name) => accounts.lookup(name),
      certificate: (cn) => serviceTokens.authenticateCertificate(cn),
      throttle: deps.loginGuard,
      failureDelayMs: deps.settings.loginFailureDelayMs,
      watch: (source) => watcher.watch(source),
      opened: (a) => watcher.opened(a),
      reportClients: (source) => {
        reported = source;
      },
    },
    clients: (connectionId) => reported?.(connectionId),
  };
}

function loginGuardFor(settings: CoreSettings, redis: Redis | undefined): LoginGuard {
  const options = {
    limit: settings.loginFailureLimit,
    sourceLimit: settings.loginSourceFailureLimit,
    windowMs: settings.loginFailureWindowMs,
    failureDelayMs: settings.loginFailureDelayMs,
  };
  return redis ? redisLoginGuard(redis, options) : memoryLoginGuard(options);
}

/**
 * The audit log, keyed by the key provider, with checkpoints and export when configured (tests may
 * leave them out: no checkpoint file, no copy).
 */
function openAudit(db: Db, keys: KeySet, settings: CoreSettings, log: Logger): AuditLog {
  const onError = (err: unknown, what = "audit export") =>
    log.warn({ error: (err as Error).message }, `${what} failed`);
  const a = settings.audit;
  return createAuditLog(db, {
    keys,
    checkpoints: a
      ? { file: a.checkpointFile, everyEvents: a.checkpointEvery, intervalMs: a.checkpointIntervalMs }
      : undefined,
    export: openAuditExport(a?.export, onError),
    onError,
  });
}

const RECHECK_EVERY_S = 30;

/**
 * Ends open leases and Session streams whose principal may no longer use their connection: on every
 * revoking change the cache bus carries (from this instance or, through Redis, from any other), and
 * each second for sessions and service tokens that expired while open.
 */
function watchRevocations(deps: { db: Db; plane: DataPlane; log: Logger }) {
  // Open access held outside the data plane's leases: the PostgreSQL front door's clients.
  const others: (() => Iterable<OpenAccess>)[] = [];
  const access = (lease: Lease): OpenAccess => ({
    principal: lease.principal,
    connectionId: lease.connectionId,
    end: (why) => deps.plane.leases.end(lease, why === "access_revoked" ? "revoked" : "session_ended"),
  });
  // One-shot Execute calls hold a pooled session too: a revoke cancels them like a lease.
  const inFlight = new InFlightStatements();
  others.push(() => inFlight.list());
  const watch = createRevocationWatch({
    open: () => [...deps.plane.leases.list().map(access), ...others.flatMap((source) => [...source()])],
    recheck: createPrincipalRecheck({ db: deps.db }),
    policy: grantsPolicy(deps.db),
    onError: (err) => deps.log.warn({ err }, "open access could not be re-checked against the store"),
  });
  const logged = (what: string) => (err: unknown) => deps.log.warn({ err }, `revocation ${what} failed`);
  deps.plane.leases.on("opened", (lease) => void watch.opened(access(lease)).catch(logged("check")));
  inFlight.onOpened = (a) => void watch.opened(a).catch(logged("check"));
  let ticks = 0;
  const sweeper = setInterval(() => {
    void watch.sweep().catch(logged("sweep"));
    // Every RECHECK_EVERY_S seconds, everything open, in case a change was announced and lost.
    if (++ticks % RECHECK_EVERY_S === 0) void watch.recheckAll().catch(logged("re-check"));
  }, 1_000);
  sweeper.unref();
  return {
    changed: (change: Invalidation) => watch.changed(change).catch(logged("check")),
    stop: () => clearInterval(sweeper),
    /** One-shot statements in flight, for the broker to register. */
    inFlight,
    /** Adds open access the watch must re-check (read at every change and sweep). */
    watch: (source: () => Iterable<OpenAccess>) => others.push(source),
    /** Access that has just opened, re-checked if a change concerning it came while it was opening. */
    opened: (a: OpenAccess) => void watch.opened(a).catch(logged("check")),
  };
}
