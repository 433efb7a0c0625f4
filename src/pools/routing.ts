import { ENGINES } from "../engines/index.js";
import { BerthError } from "../errors/berth-error.js";
import type { ConnectionPool } from "./pool.js";
import type { PooledSession } from "./pool-types.js";
import { mayFallBack } from "./read-fallback.js";
import { noPrimary, replicaRefused } from "./routing-errors.js";

// Routing by intent: which host of a connection a write or a READ goes to, from the roles the health
// checks observed. PoolManager (pool-manager.ts) owns the pools' lifecycle and calls in here.

/**
 * A connection's pools, one per configured host: its `server` first, then its replicas. Which
 * host is the primary is observed, not configured: the pool in any slot may be the one writes go
 * to. A pool whose host loses the primary role is replaced by a fresh one for that host.
 */
export interface PoolGroup {
  hosts: ConnectionPool[];
  /** Opens a pool for the host in `slot` (a replacement keeps the settings and credentials). */
  open(slot: number): ConnectionPool;
  /** Rotates where a read starts among equally loaded replicas. */
  next: number;
}

/** What routing needs of the observed roles (HealthMonitor fits it). */
export interface RoleSource {
  /** Whether any host of the connection answered what it is; false: route by configuration. */
  observed(connectionId: string): boolean;
  /** Whether writes go to this host now. */
  isWriter(pool: ConnectionPool): boolean;
  /** Whether the host may serve reads as a replica, lagging at most maxLagMs (0: any lag). */
  readable(pool: ConnectionPool, maxLagMs: number): boolean;
  /** Resolves once the first checks have told who takes writes, or at `until` (performance.now()). */
  settle(connectionId: string, until: number): Promise<void>;
  /** Something suggests the roles moved: check the connection's hosts now (rate-limited). */
  checkSoon(connectionId: string): void;
  /** The host's position at its last check (a replica's replayed one); undefined unknown. */
  position(pool: ConnectionPool): string | undefined;
}

/** What routing is told by the data plane (all optional: a connection routes by configuration). */
export interface RoutingDeps {
  /** Whether a host may be given work now; absent: every host may. */
  usable?(pool: ConnectionPool): boolean;
  /** Why a host is known to refuse Berth for a reason reads must not route around (health.refusal). */
  refusal?(pool: ConnectionPool): string | undefined;
  /** A replica refused a session for such a reason: show it in the status, log and audit it. */
  onReplicaRefused?(pool: ConnectionPool, reason: string): void;
  /** The hosts' observed roles (health checks); absent: every host keeps its configured role. */
  roles?: RoleSource;
}

/** The pool writes go to now; no_primary when no host is one. */
export async function writerOf(
  roles: RoleSource | undefined,
  connectionId: string,
  group: PoolGroup,
  until: number,
): Promise<ConnectionPool> {
  if (!roles) return group.hosts[0]!;
  await roles.settle(connectionId, until);
  if (!roles.observed(connectionId)) return group.hosts[0]!;
  const writer = group.hosts.find((p) => roles.isWriter(p));
  if (writer) return writer;
  roles.checkSoon(connectionId);
  throw noPrimary(group);
}

/**
 * Replicas by fewest outstanding requests (ties rotate), those known to be down, fenced or
 * lagging skipped; a replica that cannot serve hands on; then the primary.
 */
export async function acquireForRead(
  deps: RoutingDeps,
  connectionId: string,
  group: PoolGroup,
  until: number,
  atLeast: string | undefined,
): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
  let passed: BerthError | undefined;
  const usable = deps.usable ?? (() => true);
  for (const replica of readCandidates(deps.roles, connectionId, group)) {
    const refused = deps.refusal?.(replica);
    if (refused) throw replicaRefused(replica, refused);
    if (!usable(replica)) continue;
    try {
      const pooled = await replica.acquire(until);
      if (atLeast === undefined || (await replayed(deps.roles, replica, pooled, atLeast)))
        return { pool: replica, pooled };
    } catch (err) {
      // Cannot reach it: the next host. Reached and refused: this READ fails. Exhausted or retired: say so.
      if (!(err instanceof BerthError)) throw err;
      const reason = String(err.details.reason ?? "");
      if (reason === "pool_retired") throw err;
      if (err.kind === "unavailable" && mayFallBack(reason)) {
        passed = err;
        continue;
      }
      if (err.kind !== "unavailable" && err.kind !== "security_violation") throw err;
      deps.onReplicaRefused?.(replica, reason);
      throw replicaRefused(replica, reason, err);
    }
  }
  // A replica that did not answer used up the caller's time: its answer, not the primary's.
  if (passed && performance.now() >= until) throw passed;
  const roles = deps.roles;
  const observed = roles?.observed(connectionId) === true;
  const primary = observed ? group.hosts.find((p) => roles!.isWriter(p)) : group.hosts[0]!;
  if (!primary) throw passed ?? noPrimary(group, "read");
  return { pool: primary, pooled: await primary.acquire(until) };
}

/**
 * Whether the replica has replayed `atLeast` (a read-your-writes token's position): known from
 * its last check when that was already past it, else asked on the session just taken — which goes
 * back to the pool when the answer is no (or is destroyed when there is none).
 */
async function replayed(
  roles: RoleSource | undefined,
  pool: ConnectionPool,
  pooled: PooledSession,
  atLeast: string,
): Promise<boolean> {
  const questions = ENGINES[pool.settings.type].replication;
  if (!questions) return true;
  const seen = roles?.position(pool);
  if (seen && (questions.compare(seen, atLeast) ?? -1) >= 0) return true;
  try {
    if (await questions.hasReplayed(pooled.session, atLeast)) return true;
    void pool.release(pooled, { reset: false }).catch(() => {});
  } catch {
    void pool.destroy(pooled);
  }
  return false;
}

/** The replicas a READ may try, the least busy first; rotation breaks ties so that idle replicas share the load. */
function readCandidates(
  roles: RoleSource | undefined,
  connectionId: string,
  group: PoolGroup,
): ConnectionPool[] {
  const observed = roles?.observed(connectionId) === true;
  const maxLagMs = group.hosts[0]!.settings.engineOptions.maxReplicaLagMs;
  const replicas = group.hosts.filter((p) =>
    observed ? roles!.readable(p, maxLagMs) : p.role === "replica",
  );
  const n = replicas.length;
  if (n === 0) return [];
  const start = group.next++ % n;
  const rotated = replicas.map((_, i) => replicas[(start + i) % n]!);
  return rotated.sort((a, b) => a.outstanding - b.outstanding);
}
