import { createAccessManager } from "./access/grants.js";
import { TtlCache } from "./access/ttl-cache.js";
import type { AuditLog } from "./audit/audit-log.js";
import { auditLeases, auditRoles } from "./audit/data-plane-events.js";
import type { ConnectionRegistry } from "./connections/registry.js";
import { connectionsAndPools } from "./core/connections-and-pools.js";
import type { CoreSettings } from "./core/core-settings.js";
import { createServices } from "./core/create-services.js";
import { type FrontDoorCore, frontDoorCore } from "./core/front-door-core.js";
import { invalidationBus } from "./core/invalidation-bus.js";
import { loginGuardFor } from "./core/shared-limits.js";
import { type RevocationWatcher, watchRevocations } from "./core/watch-revocations.js";
import type { KeyProvider } from "./crypto/key-provider.js";
import { KeySet } from "./crypto/key-set.js";
import type { Principal } from "./identity/principal.js";
import { createServiceTokens } from "./identity/service-tokens.js";
import { createUserAdmin } from "./identity/user-admin.js";
import { createRateLimits } from "./limits/rate-limits.js";
import type { Logger } from "./observability/logger.js";
import type { DataPlane } from "./pools/data-plane.js";
import { createInterceptors } from "./server/routes.js";
import type { Services } from "./server/service-table.js";
import type { InstanceDirectory } from "./services/admin-service.js";
import type { Db } from "./store/store.js";

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
  let revocations: RevocationWatcher | undefined;
  const { registry, audit, plane, budget } = connectionsAndPools({
    ...deps,
    keys,
    accessCache,
    onChanged: (id) => bus.publish(`connection|${id}`),
  });
  dataPlane = plane;
  const access = createAccessManager({
    db,
    registry,
    onAccessChanged: (id) => bus.publish(`tag|connection:${id}`),
  });
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
  const services = createServices({
    ...deps,
    keys,
    instances: deps.instances,
    audit,
    registry,
    plane,
    access,
    users,
    serviceTokens,
    loginGuard,
    accessCache,
    inFlight: revocations.inFlight,
    frontDoorClients: frontDoor.clients,
    rateLimits: rl,
    forgetSession: (hash) => bus.publish(`session|${hash}`),
    // The problem is free text: the event is counted without it (it is in the Verify answer).
    onChainBroken: () => plane.metrics.securityEvent("audit_chain_broken"),
  });
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

function keysNotReread(log: Logger, err: unknown): void {
  log.warn({ error: (err as Error).message }, "the keyring could not be re-read from the store");
}
