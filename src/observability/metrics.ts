import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { createRequestMetrics, type SecurityEvent, securityEventOf } from "./request-metrics.js";

/*
 * What the metrics read of the data plane, declared here rather than imported from src/pools so
 * that observability depends on nothing above it; the pool manager, leases and health monitor
 * fit these shapes as they are.
 */
export interface ObservedPool {
  readonly connectionId: string;
  readonly role: string;
  /** The connection's name (a rename retires the pool: the next one carries the new name). */
  readonly settings?: { readonly name: string; readonly type: string };
  stats(): { size: number; idle: number; inUse: number; opening: number; waiting: number; maxSize: number };
  on(event: "acquired", listener: (waitMs: number) => void): unknown;
  on(event: "destroyed", listener: (session: unknown, reason: string) => void): unknown;
  on(event: "acquireFailed", listener: (reason: string) => void): unknown;
}

export interface ObservedLeases {
  readonly active: number;
  on(event: "ended", listener: (lease: unknown, reason: string) => void): unknown;
}

interface MetricsSources {
  pools: { all(): readonly ObservedPool[] };
  /** The engines Berth knows: their connection-test counters start at 0. */
  engines?: readonly string[];
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

/** A connection's labels: its id (stable) and its name (readable; see README on renames). */
type ConnectionLabels = { connection_id: string; connection_name: string };

function labelsOf(pool: ObservedPool): ConnectionLabels {
  return { connection_id: pool.connectionId, connection_name: pool.settings?.name ?? "" };
}

/** One entry per connection with an open pool (a connection with replicas has a pool per host). */
function connectionsOf(pools: readonly ObservedPool[]): ConnectionLabels[] {
  const seen = new Map<string, ConnectionLabels>();
  for (const p of pools) if (!seen.has(p.connectionId)) seen.set(p.connectionId, labelsOf(p));
  return [...seen.values()];
}

/** Pool figures read at scrape time: sessions by state, utilisation. */
function poolGauges(registry: Registry, deps: MetricsSources) {
  new Gauge({
    name: "berth_pool_sessions",
    help: "Sessions of each connection's pool by state (size, idle, in_use, opening, waiting, max)",
    labelNames: ["connection_id", "connection_name", "state"],
    registers: [registry],
    collect() {
      this.reset();
      // A connection with read replicas has a pool per host: its figures are their sums.
      for (const pool of deps.pools.all()) {
        const s = pool.stats();
        const l = labelsOf(pool);
        this.inc({ ...l, state: "size" }, s.size);
        this.inc({ ...l, state: "idle" }, s.idle);
        this.inc({ ...l, state: "in_use" }, s.inUse);
        this.inc({ ...l, state: "opening" }, s.opening);
        this.inc({ ...l, state: "waiting" }, s.waiting);
        this.inc({ ...l, state: "max" }, s.maxSize);
      }
    },
  });
  new Gauge({
    name: "berth_pool_utilization_ratio",
    help: "Sessions in use (or being opened) over the pool's maximum, summed over a connection's hosts",
    labelNames: ["connection_id", "connection_name"],
    registers: [registry],
    collect() {
      this.reset();
      const sums = new Map<string, { l: ConnectionLabels; busy: number; max: number }>();
      for (const pool of deps.pools.all()) {
        const s = pool.stats();
        const e = sums.get(pool.connectionId) ?? { l: labelsOf(pool), busy: 0, max: 0 };
        e.busy += s.inUse + s.opening;
        e.max += s.maxSize;
        sums.set(pool.connectionId, e);
      }
      for (const { l, busy, max } of sums.values()) this.set(l, max > 0 ? busy / max : 0);
    },
  });
}

/** What the health checks last saw, per connection and host. */
function healthGauges(registry: Registry, deps: MetricsSources) {
  new Gauge({
    name: "berth_connection_health",
    help: "1 healthy, 0.5 degraded, 0 unavailable or failed, -1 not checked yet",
    labelNames: ["connection_id", "connection_name"],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of connectionsOf(deps.pools.all())) {
        const status = deps.health.status(l.connection_id) ?? "untested";
        this.set(l, HEALTH_VALUE[status] ?? -1);
      }
    },
  });
  new Gauge({
    name: "berth_connection_no_primary",
    help: "1 while a connection's hosts are observed and none takes writes (writes fail with no_primary)",
    labelNames: ["connection_id", "connection_name"],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of connectionsOf(deps.pools.all()))
        this.set(l, deps.health.noPrimary(l.connection_id) ? 1 : 0);
    },
  });
  new Gauge({
    name: "berth_host_fenced",
    help: "1 for a host that takes writes although another was promoted past it (Berth routes nothing to it)",
    labelNames: ["connection_id", "connection_name", "slot"],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of connectionsOf(deps.pools.all()))
        for (const h of deps.health.hosts(l.connection_id))
          this.set({ ...l, slot: h.slot }, h.fenced ? 1 : 0);
    },
  });
  new Gauge({
    name: "berth_replica_lag_seconds",
    help: "A replica's replay lag at its last health check (hosts are named by their place in the configuration)",
    labelNames: ["connection_id", "connection_name", "slot"],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of connectionsOf(deps.pools.all()))
        for (const h of deps.health.hosts(l.connection_id))
          if (h.role === "replica" && h.replicaLagMs !== undefined)
            this.set({ ...l, slot: h.slot }, h.replicaLagMs / 1000);
    },
  });
}

/** Lease figures: active now, ended by reason. */
function leaseMetrics(registry: Registry, leases: ObservedLeases) {
  new Gauge({
    name: "berth_leases_active",
    help: "Leases currently held",
    registers: [registry],
    collect() {
      this.set(leases.active);
    },
  });
  const leasesEnded = new Counter({
    name: "berth_leases_ended_total",
    help: "Leases ended, by reason (released, expired, max_lifetime, stream_closed, connection_lost, revoked, shutdown)",
    labelNames: ["reason"],
    registers: [registry],
  });
  leases.on("ended", (_lease, reason) => leasesEnded.inc({ reason }));
}

/**
 * Everything /metrics shows. Gauges are read from the pools at scrape time, not kept in step.
 * The process metrics keep their usual names (process_*, nodejs_*) so that stock dashboards work.
 */
export function createMetrics(deps: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  poolGauges(registry, deps);
  healthGauges(registry, deps);
  leaseMetrics(registry, deps.leases);
  const requests = createRequestMetrics(registry, deps.engines);
  // The name each connection had when its pool was last opened (statements are observed by id).
  const names = new Map<string, string>();
  const roleChanges = new Counter({
    name: "berth_host_role_changes_total",
    help: "Hosts seen to change role, by the role they took (primary, replica) or fenced",
    labelNames: ["connection_id", "connection_name", "to"],
    registers: [registry],
  });
  const acquireWait = new Histogram({
    name: "berth_pool_acquire_wait_seconds",
    help: "Time to get a session from a pool",
    labelNames: ["connection_id", "connection_name"],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registers: [registry],
  });
  const acquireFailures = new Counter({
    name: "berth_pool_acquire_failures_total",
    help: "Callers that got no session in time, by reason (pool_exhausted: every session busy)",
    labelNames: ["connection_id", "connection_name", "reason"],
    registers: [registry],
  });
  const queryDuration = new Histogram({
    name: "berth_query_duration_seconds",
    help: "Statement time from sending it to its last row",
    labelNames: ["connection_id", "connection_name"],
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
  const labels = (id: string): ConnectionLabels => ({
    connection_id: id,
    connection_name: names.get(id) ?? "",
  });
  return {
    registry,
    attachPool(pool: ObservedPool) {
      if (pool.settings) names.set(pool.connectionId, pool.settings.name);
      const l = labelsOf(pool);
      pool.on("acquired", (ms) => acquireWait.observe(l, ms / 1000));
      // From 0, so that the first refusal is an increase (BerthPoolExhausted fires on it).
      acquireFailures.inc({ ...l, reason: "pool_exhausted" }, 0);
      pool.on("acquireFailed", (reason) => acquireFailures.inc({ ...l, reason }));
      pool.on("destroyed", (_p, reason) => sessionsDestroyed.inc({ reason }));
    },
    observeQuery(connectionId: string, ms: number) {
      queryDuration.observe(labels(connectionId), ms / 1000);
    },
    countRoleChange(connectionId: string, to: string) {
      roleChanges.inc({ ...labels(connectionId), to });
    },
    /** A failed call: its kind and reason, and the security event it stands for (given its RPC). */
    countError(kind: string, reason: string, method = "") {
      if (kind === "cancelled") {
        cancelled.inc();
        return;
      }
      errors.inc({ kind, reason });
      const event = securityEventOf(kind, reason, method);
      if (event) requests.securityEvent(event);
    },
    securityEvent: (event: SecurityEvent) => requests.securityEvent(event),
    observeRequest: requests.observeRequest,
    observeCheck: requests.observeCheck,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
