import { grantsPolicy } from "../access/policy.js";
import type { TtlCache } from "../access/ttl-cache.js";
import type { AuditLog } from "../audit/audit-log.js";
import { replicaRefusedReporter, systemEvent } from "../audit/data-plane-events.js";
import { type ConnectionRegistry, createConnectionRegistry } from "../connections/registry.js";
import { createTargetPolicy } from "../connections/target-policy.js";
import type { KeySet } from "../crypto/key-set.js";
import { driverFor } from "../engines/index.js";
import type { RedisSessionBudget } from "../limits/connection-budget.js";
import type { Logger } from "../observability/logger.js";
import { createDataPlane, type DataPlane } from "../pools/data-plane.js";
import { checkObservation } from "../services/check-observation.js";
import { forgetRoleMemory, loadRoleMemory, saveRoleMemory } from "../store/role-memory-repository.js";
import type { Db } from "../store/store.js";
import type { CoreSettings } from "./core-settings.js";
import { openAudit } from "./open-audit.js";
import { sharedBudget } from "./shared-limits.js";

export interface ConnectionsAndPools {
  registry: ConnectionRegistry;
  /** Opened between the registry and the data plane, which reports decryptions and refusals to it. */
  audit: AuditLog;
  plane: DataPlane;
  /** The session budget shared through Redis; undefined without Redis. */
  budget: RedisSessionBudget | undefined;
}

/**
 * The stored connections (the registry) and the pools that serve them (the data plane), bound by one
 * target policy and, with Redis, one session budget.
 */
export function connectionsAndPools(deps: {
  db: Db;
  keys: KeySet;
  log: Logger;
  settings: CoreSettings;
  accessCache: TtlCache<true>;
  /** Announces a changed connection to every instance. */
  onChanged: (id: string) => void;
}): ConnectionsAndPools {
  const { db, keys, settings } = deps;
  let dataPlane: DataPlane | undefined;
  // One policy for every way Berth reaches a database: tests, validations, pools, health checks.
  const targets = createTargetPolicy(settings.targets);
  const budget = sharedBudget(settings, deps.log);
  const registry = createConnectionRegistry({
    db,
    keys,
    policy: grantsPolicy(db),
    drivers: driverFor,
    testTimeoutMs: settings.testTimeoutMs,
    onChanged: deps.onChanged,
    requireTls: settings.requireTls,
    targets,
    observeCheck: (...check) => dataPlane?.metrics.observeCheck(checkObservation(...check)),
  });
  const audit = openAudit(db, keys, settings, deps.log);
  const plane = createDataPlane(registry, deps.accessCache, {
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
  return { registry, audit, plane, budget };
}

/** Where each connection's role memory outlives Berth: the store's connection_roles. */
function storedRoleMemory(db: Db) {
  return {
    load: (id: string) => loadRoleMemory(db, id),
    save: (id: string, memory: Parameters<typeof saveRoleMemory>[2]) => saveRoleMemory(db, id, memory),
    clear: (id: string) => forgetRoleMemory(db, id),
  };
}
