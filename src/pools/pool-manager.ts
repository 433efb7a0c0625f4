import type { ConnectionSettings, Credentials } from "../connections/settings.js";
import type { Driver } from "../drivers/driver.js";
import { CLEARTEXT_PASSWORD_REFUSED } from "../engines/cleartext-refusal.js";
import { ENGINES, type EngineId } from "../engines/index.js";
import { BerthError, UnavailableError, UnimplementedError } from "../errors/berth-error.js";
import type { SessionBudget } from "./budget.js";
import { mayFallBack } from "./health.js";
import { ConnectionPool, type PooledSession, type PoolStatsSnapshot } from "./pool.js";

export type Intent = "read" | "write";

export interface PoolManagerDeps {
  /** Settings and decrypted credentials of a connection: called once per pool group, not per statement. */
  load(connectionId: string): Promise<{ settings: ConnectionSettings; credentials: Credentials }>;
  drivers(engine: EngineId): Driver | undefined;
  connectTimeoutMs: number;
  /** Told about every new pool (one per host), to attach metrics and health checks. */
  onPool?(pool: ConnectionPool): void;
  /** Told when a connection's pools are retired. */
  onRetire?(connectionId: string): void;
  /** Whether a host may be given work now; absent: every host may. */
  usable?(pool: ConnectionPool): boolean;
  /** Why a host is known to refuse Berth for a reason reads must not route around (health.refusal). */
  refusal?(pool: ConnectionPool): string | undefined;
  /** A replica refused a session for such a reason: show it in the status, log and audit it. */
  onReplicaRefused?(pool: ConnectionPool, reason: string): void;
  /**
   * The budget shared with other Berth instances (Redis): every session of every host takes a permit
   * of its connection's host. Absent: each pool's maxPoolSize is the only bound.
   */
  budget?: SessionBudget | undefined;
}

/** A connection's pools: the primary's, and one per read replica. */
interface PoolGroup {
  primary: ConnectionPool;
  replicas: ConnectionPool[];
  /** Round-robin position over the replicas. */
  next: number;
}

/**
 * Pools per connection, created on first use: one for the primary and one per read replica, all
 * with the connection's pool settings and credentials. Writes (and anything that does not say it
 * only reads) go to the primary. Reads are spread over the replicas round-robin, skipping a
 * replica that cannot be reached, and fall back to the primary when no replica can serve — so
 * losing a replica costs no call. A replica that is reached but refuses Berth (sign-in refused,
 * certificate not verified) is not routed around: the host may no longer be the replica it was
 * saved as, and a READ quietly served elsewhere would hide it. The READ fails with the replica's
 * error, and the replica is reported (status, log, audit) until a health check passes again.
 *
 * A change to a connection retires its pools: new acquisitions go to fresh pools (new settings,
 * new credentials) while sessions in use finish on the old ones, which then close.
 */
export class PoolManager {
  readonly #deps: PoolManagerDeps;
  readonly #building = new Map<string, Promise<PoolGroup>>();
  readonly #groups = new Map<string, PoolGroup>();
  #closed = false;

  constructor(deps: PoolManagerDeps) {
    this.#deps = deps;
  }

  /** The connection's primary pool (created on first use). */
  async pool(connectionId: string): Promise<ConnectionPool> {
    return (await this.#group(connectionId)).primary;
  }

  #group(connectionId: string): Promise<PoolGroup> {
    if (this.#closed)
      return Promise.reject(new UnavailableError("Berth is shutting down", { reason: "shutting_down" }));
    const ready = this.#groups.get(connectionId);
    if (ready) return Promise.resolve(ready);
    let building = this.#building.get(connectionId);
    if (!building) {
      building = this.#build(connectionId).finally(() => this.#building.delete(connectionId));
      this.#building.set(connectionId, building);
    }
    return building;
  }

  async #build(connectionId: string): Promise<PoolGroup> {
    const { settings, credentials } = await this.#deps.load(connectionId);
    const driver = this.#deps.drivers(settings.type);
    if (!driver) throw new UnimplementedError(`Pooling ${ENGINES[settings.type].label} connections`);
    const open = (role: "primary" | "replica", s: ConnectionSettings) => {
      const pool = new ConnectionPool({
        connectionId,
        role,
        settings: s,
        credentials,
        driver,
        connectTimeoutMs: this.#deps.connectTimeoutMs,
        budget: this.#deps.budget,
      });
      this.#deps.onPool?.(pool);
      return pool;
    };
    const group: PoolGroup = {
      primary: open("primary", settings),
      replicas: settings.replicas.map((r) =>
        open("replica", { ...settings, server: r.server, port: r.port, replicas: [] }),
      ),
      next: 0,
    };
    this.#groups.set(connectionId, group);
    return group;
  }

  /**
   * A session from the connection's current pools, by intent. If the pools are retired while the
   * caller waits (credentials or settings changed), the caller moves to their successors instead
   * of failing: a credential rotation must not cost a single call. However many hosts and pools
   * it tries, the call ends within the connection's acquireTimeoutMs.
   */
  async acquire(
    connectionId: string,
    intent: Intent = "write",
    options: { acceptState?: boolean } = {},
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    const got = await this.#acquireAny(connectionId, intent);
    if (options.acceptState || !got.pooled.carriesState) return got;
    // Settings a front-door client left for its next transaction are no one else's: reset first.
    try {
      await got.pooled.session.reset();
      got.pooled.carriesState = false;
      got.pooled.generation++;
      return got;
    } catch {
      await got.pool.destroy(got.pooled);
      throw new UnavailableError(`A session to ${got.pool.host} could not be reset for reuse; try again`, {
        reason: "reset_failed",
      });
    }
  }

  async #acquireAny(
    connectionId: string,
    intent: Intent,
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    let until: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const group = await this.#group(connectionId);
      until ??= performance.now() + group.primary.settings.pool.acquireTimeoutMs;
      try {
        return intent === "read" && group.replicas.length > 0
          ? await this.#acquireForRead(group, until)
          : { pool: group.primary, pooled: await group.primary.acquire(until) };
      } catch (err) {
        const retired = err instanceof BerthError && err.details.reason === "pool_retired";
        if (!retired || attempt >= 3) throw err;
      }
    }
  }

  /** Replicas in turn, those known to be down skipped; a replica that cannot serve hands on; then the primary. */
  async #acquireForRead(
    group: PoolGroup,
    until: number,
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    const n = group.replicas.length;
    let passed: BerthError | undefined;
    const start = group.next++ % n;
    const usable = this.#deps.usable ?? (() => true);
    for (let i = 0; i < n; i++) {
      const replica = group.replicas[(start + i) % n]!;
      const refused = this.#deps.refusal?.(replica);
      if (refused) throw replicaRefused(replica, refused);
      if (!usable(replica)) continue;
      try {
        return { pool: replica, pooled: await replica.acquire(until) };
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
        this.#deps.onReplicaRefused?.(replica, reason);
        throw replicaRefused(replica, reason, err);
      }
    }
    // A replica that did not answer used up the caller's time: its answer, not the primary's.
    if (passed && performance.now() >= until) throw passed;
    return { pool: group.primary, pooled: await group.primary.acquire(until) };
  }

  /** Every open pool of a connection, primary first (for statistics; never creates one). */
  poolsOf(connectionId: string): ConnectionPool[] {
    const g = this.#groups.get(connectionId);
    return g ? [g.primary, ...g.replicas] : [];
  }

  /** Every open pool of every connection. */
  all(): ConnectionPool[] {
    return [...this.#groups.values()].flatMap((g) => [g.primary, ...g.replicas]);
  }

  /** The connection changed or was deleted: stop using its pools; they close once their sessions return. */
  retire(connectionId: string, graceMs = 30_000): Promise<void> {
    const group = this.#groups.get(connectionId);
    this.#groups.delete(connectionId);
    this.#building.delete(connectionId);
    if (!group) return Promise.resolve();
    this.#deps.onRetire?.(connectionId);
    return Promise.all([group.primary, ...group.replicas].map((p) => p.close(graceMs, "retired"))).then(
      () => {},
    );
  }

  /** The RFC's /reset: drain and recreate now. */
  async reset(connectionId: string, graceMs: number): Promise<PoolStatsSnapshot> {
    await this.retire(connectionId, graceMs);
    const pool = await this.pool(connectionId);
    return pool.stats();
  }

  /** Shutdown: every pool closes (waiting callers are told so) and no new pool is built. */
  async closeAll(graceMs: number): Promise<void> {
    this.#closed = true;
    const pools = this.all();
    this.#groups.clear();
    this.#building.clear();
    await Promise.all(pools.map((pool) => pool.close(graceMs, "closed")));
  }
}

export type { PoolStatsSnapshot };

/** How a refusal known only from a health check reads (the session's own error says it otherwise). */
const REFUSAL_TEXT: Record<string, string> = {
  authentication_failed: "refused Berth's sign-in",
  [CLEARTEXT_PASSWORD_REFUSED]:
    "asked for the password in clear text on a connection without TLS; Berth did not send it",
};

/**
 * The READ's answer when its replica refuses Berth: the replica's own error (same kind, so a
 * refused clear-text request still answers like one), which replica, and what to do.
 */
function replicaRefused(replica: ConnectionPool, reason: string, cause?: BerthError): BerthError {
  const what = cause
    ? cause.message
    : `The read replica ${replica.host} ${REFUSAL_TEXT[reason] ?? `refuses Berth (${reason})`}`;
  const kind = cause?.kind ?? (reason === CLEARTEXT_PASSWORD_REFUSED ? "security_violation" : "unavailable");
  return new BerthError(
    kind,
    `${what}. Reads are not sent to another host while a replica refuses Berth: it may not be the server it was saved as; check the replica and the connection's replicas`,
    { ...cause?.details, reason, replica: replica.host },
    { cause },
  );
}
