import type { createAccessManager } from "../access/grants.js";
import type { TtlCache } from "../access/ttl-cache.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { ConnectionRegistry } from "../connections/registry.js";
import type { KeySet } from "../crypto/key-set.js";
import type { LoginGuard } from "../identity/login-throttle.js";
import type { createServiceTokens } from "../identity/service-tokens.js";
import type { createUserAdmin } from "../identity/user-admin.js";
import type { createRateLimits } from "../limits/rate-limits.js";
import type { Logger } from "../observability/logger.js";
import type { DataPlane } from "../pools/data-plane.js";
import { HEALTH_CHECKED, SERVED, type Services } from "../server/service-table.js";
import { createAccessService } from "../services/access-service.js";
import { createAdminService, type InstanceDirectory } from "../services/admin-service.js";
import { createAuditService } from "../services/audit-service.js";
import { createAuthService } from "../services/auth-service.js";
import { createBrokerService } from "../services/broker-service.js";
import { createBundleService } from "../services/bundle-service.js";
import { createConnectionService } from "../services/connection-service.js";
import type { FrontDoorClientsSource } from "../services/front-door-clients.js";
import { createHealthService } from "../services/health-service.js";
import type { InFlightStatements } from "../services/in-flight-statements.js";
import { createReflectionServices } from "../services/reflection-service.js";
import { createTokenService } from "../services/token-service.js";
import { createUserService } from "../services/user-service.js";
import type { Db } from "../store/store.js";
import type { CoreSettings } from "./core-settings.js";

/** What the services are made of: the domain objects createCore has wired. */
export interface ServiceParts {
  db: Db;
  keys: KeySet;
  log: Logger;
  settings: CoreSettings;
  ready: () => boolean;
  instances: InstanceDirectory | undefined;
  audit: AuditLog;
  registry: ConnectionRegistry;
  plane: DataPlane;
  access: ReturnType<typeof createAccessManager>;
  users: ReturnType<typeof createUserAdmin>;
  serviceTokens: ReturnType<typeof createServiceTokens>;
  loginGuard: LoginGuard;
  accessCache: TtlCache<true>;
  frontDoorClients: FrontDoorClientsSource;
  /** The RFC's rate limits; undefined when BERTH_RATE_LIMITS=off. */
  rateLimits: ReturnType<typeof createRateLimits> | undefined;
  /** Tells every instance to forget a signed-in session (its token's hash). */
  forgetSession: (hash: string) => void;
  /** Counts a broken audit chain among the security events. */
  onChainBroken: () => void;
  /** One-shot statements in flight, ended by the revocation watch like leases. */
  inFlight: InFlightStatements;
}

/** Every proto service, each a thin mapping onto the domain (DESIGN §2). */
export function createServices(p: ServiceParts): Services {
  const { db, settings, registry, plane } = p;
  return {
    token: createTokenService({ tokens: p.serviceTokens }),
    admin: createAdminService({
      db,
      keys: p.keys,
      audit: p.audit,
      ...(p.instances ? { instances: p.instances } : {}),
    }),
    audit: createAuditService({
      audit: p.audit,
      levelOf: (principal, id) => registry.levelOf(principal, id),
      onChainBroken: p.onChainBroken,
    }),
    access: createAccessService({ access: p.access }),
    user: createUserService({ users: p.users }),
    bundle: createBundleService({
      db,
      registry,
      audit: p.audit,
      requireTls: settings.requireTls,
      budget: p.rateLimits?.budget,
    }),
    connection: createConnectionService({
      registry,
      dataPlane: plane,
      resetGraceMs: settings.shutdownGraceMs,
      initializePoolOnCreate: settings.createInitializesPool ?? false,
      frontDoorClients: p.frontDoorClients,
    }),
    auth: createAuthService({
      db,
      sessionTtlMs: settings.sessionTtlMs,
      forgetSession: p.forgetSession,
      failureDelayMs: settings.loginFailureDelayMs,
      google: settings.google,
      throttle: p.loginGuard,
      log: p.log,
    }),
    broker: createBrokerService({
      registry,
      pools: plane.pools,
      leases: plane.leases,
      accessCache: p.accessCache,
      statementTimeoutMs: settings.statementTimeoutMs,
      batchBytes: settings.rowBatchBytes,
      cancelGraceMs: settings.cancelGraceMs,
      observeQuery: (id, ms) => plane.metrics.observeQuery(id, ms),
      inFlight: p.inFlight,
    }),
    health: createHealthService({ ready: p.ready, services: HEALTH_CHECKED.map((s) => s.typeName) }),
    ...createReflectionServices(SERVED),
  };
}
