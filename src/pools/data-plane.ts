import type { TtlCache } from "../access/ttl-cache.js";
import type { ConnectionRegistry } from "../connections/registry.js";
import { guardDrivers } from "../connections/target-guard.js";
import { createTargetPolicy, type TargetPolicy } from "../connections/target-policy.js";
import { createTunnelRegistry } from "../drivers/ssh/tunnel-driver.js";
import { driverFor, ENGINES } from "../engines/index.js";
import { createMetrics, type Metrics } from "../observability/metrics.js";
import type { SessionBudget } from "./budget.js";
import { HealthMonitor, type HealthMonitorOptions } from "./health.js";
import { LeaseManager } from "./leases.js";
import { PoolManager } from "./pool-manager.js";
import type { PoolStatsSnapshot } from "./pool-types.js";
import { mayFallBack } from "./read-fallback.js";

export interface DataPlaneOptions {
  connectTimeoutMs: number;
  healthIntervalMs: number;
  /** However often it is renewed, a lease or Session stream ends after this long. */
  leaseMaxLifetimeMs?: number;
  /** Told when a pool decrypts a connection's credentials (for the audit log); may refuse by throwing. */
  onCredentialsDecrypted?: (connectionId: string) => Promise<void>;
  /** Where sessions may be opened (every pool, replica and health probe); default: the default denials. */
  targets?: TargetPolicy;
  /** Told when a read replica refuses Berth (sign-in, TLS identity): for the log and the audit. */
  onReplicaRefused?: (connectionId: string, host: string, reason: string) => void;
  /** The connection budget shared with other instances (see PoolManagerDeps.budget). */
  budget?: SessionBudget | undefined;
  /** Where role memory outlives a restart (see HealthMonitorOptions.durable). */
  roleMemory?: HealthMonitorOptions["durable"];
}

export interface DataPlane {
  pools: PoolManager;
  leases: LeaseManager;
  health: HealthMonitor;
  metrics: Metrics;
  /** Call when a connection changed or was deleted. */
  connectionChanged(connectionId: string): void;
  /**
   * The RFC's reset: the pools are drained and rebuilt. What Berth remembers of the hosts' roles
   * survives it (a reset is a reflex while things are broken, and a newer primary may merely be
   * down); with `forgetRoles` it is forgotten too, in the store as well — the deliberate way back
   * after rebuilding a cluster, whose fresh timeline 1 the old memory would fence for good.
   */
  resetPool(
    connectionId: string,
    graceMs: number,
    options?: { forgetRoles?: boolean },
  ): Promise<PoolStatsSnapshot>;
  close(graceMs: number): Promise<void>;
}

/**
 * Pools, leases, health checks and metrics, wired together. The registry supplies settings and
 * credentials when a pool is built; nothing here reads the store per statement.
 */
export function createDataPlane(
  registry: ConnectionRegistry,
  accessCache: TtlCache<true>,
  options: DataPlaneOptions,
): DataPlane {
  const health = new HealthMonitor({
    intervalMs: options.healthIntervalMs,
    timeoutMs: options.connectTimeoutMs,
    minBackoffMs: Math.min(500, options.healthIntervalMs),
    ...(options.roleMemory ? { durable: options.roleMemory } : {}),
  });
  let metrics: Metrics | undefined;
  // The SSH tunnels of this data plane's pools: closed with it.
  const tunnels = createTunnelRegistry();
  const pools = new PoolManager({
    load: async (id) => {
      const loaded = await registry.loadForPool(id);
      // Credentials were decrypted for a pool: a security-relevant event of its own.
      await options.onCredentialsDecrypted?.(id);
      return loaded;
    },
    drivers: guardDrivers(driverFor, options.targets ?? createTargetPolicy(), tunnels),
    connectTimeoutMs: options.connectTimeoutMs,
    onPool: (pool, slot) => {
      health.watch(pool, slot);
      metrics?.attachPool(pool);
    },
    onRetire: (id) => health.unwatch(id),
    usable: (pool) => health.usable(pool),
    refusal: (pool) => health.refusal(pool),
    onReplicaRefused: (pool, reason) => health.markRefused(pool, reason),
    budget: options.budget,
    roles: health,
    // Leases and Session streams on a host that lost the primary role end with their transaction.
    onDemoted: (old) => leases.endAfterTransaction((l) => l.pool === old, "primary_changed"),
  });
  health.on("demoted", (_id, pool) => pools.demote(pool));
  health.on("role", (id, host) => metrics?.countRoleChange(id, host.role));
  health.on("fenced", (id) => metrics?.countRoleChange(id, "fenced"));
  // Whether a READ or a health check found it out: a replica that refuses Berth is reported once.
  health.on("change", (id, host) => {
    if (host.role === "replica" && host.status === "failed" && !mayFallBack(host.lastErrorReason))
      options.onReplicaRefused?.(id, `${host.server}:${host.port}`, host.lastErrorReason);
  });
  const leases = new LeaseManager(
    pools,
    options.leaseMaxLifetimeMs ? { maxLifetimeMs: options.leaseMaxLifetimeMs } : {},
  );
  metrics = createMetrics({ pools, leases, health, engines: Object.keys(ENGINES) });
  return {
    pools,
    leases,
    health,
    metrics,
    connectionChanged(connectionId) {
      accessCache.invalidateTag(`connection:${connectionId}`);
      void pools.retire(connectionId);
    },
    async resetPool(connectionId, graceMs, reset) {
      if (reset?.forgetRoles) await options.roleMemory?.clear(connectionId);
      return pools.reset(connectionId, graceMs);
    },
    async close(graceMs) {
      health.close();
      await leases.closeAll();
      await pools.closeAll(graceMs);
      tunnels.close();
    },
  };
}
