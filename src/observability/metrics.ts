import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/*
 * What the metrics read of the data plane, declared here rather than imported from src/pools so
 * that observability depends on nothing above it; the pool manager, leases and health monitor
 * fit these shapes as they are.
 */
export interface ObservedPool {
  readonly connectionId: string;
  readonly role: string;
  stats(): { size: number; idle: number; inUse: number; opening: number; waiting: number; maxSize: number };
  on(event: "acquired", listener: (waitMs: number) => void): unknown;
  on(event: "destroyed", listener: (session: unknown, reason: string) => void): unknown;
}

export interface ObservedLeases {
  readonly active: number;
  on(event: "ended", listener: (lease: unknown, reason: string) => void): unknown;
}

interface MetricsSources {
  pools: { all(): readonly ObservedPool[] };
  leases: ObservedLeases;
  health: {
    status(connectionId: string): string | undefined;
    noPrimary(connectionId: string): boolean;
    hosts(connectionId: string): readonly ObservedHost[];
  };
}

/** A host as the health checks last saw it. */
export interface ObservedHost {
  readonly slot: string;
  readonly role: string;
  readonly fenced: boolean;
  readonly replicaLagMs: number | undefined;
}

const HEALTH_VALUE: Record<string, number> = {
  healthy: 1,
  degraded: 0.5,
  untested: -1,
  failed: 0,
  unavailable: 0,
};

/** Everything /metrics shows. Gauges are read from the pools at scrape time, not kept in step. */
export function createMetrics(deps: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "berth_process_" });
  new Gauge({
    name: "berth_pool_sessions",
    help: "Sessions of each connection's pool by state (size, idle, in_use, opening, waiting, max)",
    labelNames: ["connection_id", "state"],
    registers: [registry],
    collect() {
      this.reset();
      // A connection with read replicas has a pool per host: its figures are their sums.
      for (const pool of deps.pools.all()) {
        const s = pool.stats();
        const id = pool.connectionId;
        this.inc({ connection_id: id, state: "size" }, s.size);
        this.inc({ connection_id: id, state: "idle" }, s.idle);
        this.inc({ connection_id: id, state: "in_use" }, s.inUse);
        this.inc({ connection_id: id, state: "opening" }, s.opening);
        this.inc({ connection_id: id, state: "waiting" }, s.waiting);
        this.inc({ connection_id: id, state: "max" }, s.maxSize);
      }
    },
  });
  new Gauge({
    name: "berth_connection_health",
    help: "1 healthy, 0.5 degraded, 0 unavailable or failed, -1 not checked yet",
    labelNames: ["connection_id"],
    registers: [registry],
    collect() {
      this.reset();
      for (const id of new Set(deps.pools.all().map((p) => p.connectionId))) {
        const status = deps.health.status(id) ?? "untested";
        this.set({ connection_id: id }, HEALTH_VALUE[status] ?? -1);
      }
    },
  });
  new Gauge({
    name: "berth_connection_no_primary",
    help: "1 while a connection's hosts are observed and none takes writes (writes fail with no_primary)",
    labelNames: ["connection_id"],
    registers: [registry],
    collect() {
      this.reset();
      for (const id of new Set(deps.pools.all().map((p) => p.connectionId)))
        this.set({ connection_id: id }, deps.health.noPrimary(id) ? 1 : 0);
    },
  });
  new Gauge({
    name: "berth_host_fenced",
    help: "1 for a host that takes writes although another was promoted past it (Berth routes nothing to it)",
    labelNames: ["connection_id", "slot"],
    registers: [registry],
    collect() {
      this.reset();
      for (const id of new Set(deps.pools.all().map((p) => p.connectionId)))
        for (const h of deps.health.hosts(id))
          this.set({ connection_id: id, slot: h.slot }, h.fenced ? 1 : 0);
    },
  });
  new Gauge({
    name: "berth_replica_lag_seconds",
    help: "A replica's replay lag at its last health check (hosts are named by their place in the configuration)",
    labelNames: ["connection_id", "slot"],
    registers: [registry],
    collect() {
      this.reset();
      for (const id of new Set(deps.pools.all().map((p) => p.connectionId)))
        for (const h of deps.health.hosts(id))
          if (h.role === "replica" && h.replicaLagMs !== undefined)
            this.set({ connection_id: id, slot: h.slot }, h.replicaLagMs / 1000);
    },
  });
  const roleChanges = new Counter({
    name: "berth_host_role_changes_total",
    help: "Hosts seen to change role, by the role they took (primary, replica) or fenced",
    labelNames: ["connection_id", "to"],
    registers: [registry],
  });
  new Gauge({
    name: "berth_leases_active",
    help: "Leases currently held",
    registers: [registry],
    collect() {
      this.set(deps.leases.active);
    },
  });
  const leasesEnded = new Counter({
    name: "berth_leases_ended_total",
    help: "Leases ended, by reason (released, expired, max_lifetime, stream_closed, connection_lost, revoked, shutdown)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const acquireWait = new Histogram({
    name: "berth_pool_acquire_wait_seconds",
    help: "Time to get a session from a pool",
    labelNames: ["connection_id"],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registers: [registry],
  });
  const queryDuration = new Histogram({
    name: "berth_query_duration_seconds",
    help: "Statement time from sending it to its last row",
    labelNames: ["connection_id"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const errors = new Counter({
    name: "berth_errors_total",
    help: "Failed calls by error kind and reason",
    labelNames: ["kind", "reason"],
    registers: [registry],
  });
  // Not among the errors: a client that cancels or goes away is not Berth failing (the shipped
  // alerts sum berth_errors_total by kind).
  const cancelled = new Counter({
    name: "berth_calls_cancelled_total",
    help: "Calls the client cancelled or abandoned before they finished",
    registers: [registry],
  });
  const sessionsDestroyed = new Counter({
    name: "berth_pool_sessions_destroyed_total",
    help: "Sessions closed by the pool, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  deps.leases.on("ended", (_lease, reason) => leasesEnded.inc({ reason }));
  return {
    registry,
    attachPool(pool: ObservedPool) {
      pool.on("acquired", (ms) => acquireWait.observe({ connection_id: pool.connectionId }, ms / 1000));
      pool.on("destroyed", (_p, reason) => sessionsDestroyed.inc({ reason }));
    },
    observeQuery(connectionId: string, ms: number) {
      queryDuration.observe({ connection_id: connectionId }, ms / 1000);
    },
    countRoleChange(connectionId: string, to: string) {
      roleChanges.inc({ connection_id: connectionId, to });
    },
    countError(kind: string, reason: string) {
      if (kind === "cancelled") cancelled.inc();
      else errors.inc({ kind, reason });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
