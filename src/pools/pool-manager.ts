import type { ConnectionSettings, Credentials } from "../connections/settings.js";
import type { Driver } from "../drivers/driver.js";
import { ENGINES, type EngineId } from "../engines/index.js";
import { BerthError, UnavailableError, UnimplementedError } from "../errors/berth-error.js";
import { inChildSpan } from "../observability/tracing.js";
import type { SessionBudget } from "./budget.js";
import { positionOf, tokenOf } from "./consistency.js";
import { ConnectionPool } from "./pool.js";
import type { PooledSession, PoolStatsSnapshot } from "./pool-types.js";
import { acquireForRead, type PoolGroup, type RoutingDeps, writerOf } from "./routing.js";

export type Intent = "read" | "write";

export interface PoolManagerDeps extends RoutingDeps {
  /** Settings and decrypted credentials of a connection: called once per pool group, not per statement. */
  load(connectionId: string): Promise<{ settings: ConnectionSettings; credentials: Credentials }>;
  drivers(engine: EngineId): Driver | undefined;
  connectTimeoutMs: number;
  /**
   * Told about every new pool (one per host; `slot` 0 is the connection's `server`, then its
   * replicas in order), to attach metrics and health checks.
   */
  onPool?(pool: ConnectionPool, slot: number): void;
  /** Told when a connection's pools are retired. */
  onRetire?(connectionId: string): void;
  /**
   * The budget shared with other Berth instances (Redis): every session of every host takes a permit
   * of its connection's host. Absent: each pool's maxPoolSize is the only bound.
   */
  budget?: SessionBudget | undefined;
  /** A host lost the primary role and its pool was replaced: end what holds its sessions. */
  onDemoted?(old: ConnectionPool): void;
}

export interface AcquireOptions {
  /** Take a session as a front-door client left it (its settings kept). */
  acceptState?: boolean;
  /**
   * A READ's read-your-writes token (Completion.consistency_token): only a replica that has
   * replayed that far serves it, else the primary. "" or absent: any replica.
   */
  consistencyToken?: string;
}

/** SQLSTATE 25006 and MySQL's 1290 / 1836: the host refused a write because it is read-only. */
const READ_ONLY_CODES: ReadonlySet<string> = new Set(["25006", "1290", "1836"]);

/**
 * Pools per connection, created on first use: one per configured host, all with the connection's
 * pool settings and credentials. Writes (and anything that does not say it only reads) go to the
 * host that is primary — observed by the health checks, whichever slot of the configuration it is
 * in; with none, they fail at once with `no_primary` rather than each waiting out a timeout. Reads
 * go to the replica with the fewest outstanding requests among those that answer as replicas, are
 * not fenced and lag no more than the connection's maxReplicaLagMs, skipping a replica that cannot
 * be reached, and fall back to the primary when no replica can serve — so losing a replica costs
 * no call. A replica that is reached but refuses Berth (sign-in refused, certificate not verified)
 * is not routed around: the host may no longer be the replica it was saved as, and a READ quietly
 * served elsewhere would hide it. The READ fails with the replica's error, and the replica is
 * reported (status, log, audit) until a health check passes again. A connection with one host, or
 * whose engine's roles are not observed, routes by its configuration as before.
 *
 * A change to a connection retires its pools: new acquisitions go to fresh pools (new settings,
 * new credentials) while sessions in use finish on the old ones, which then close. A host that
 * loses the primary role has its pool retired the same way and replaced (demote()).
 */
export class PoolManager {
  readonly #deps: PoolManagerDeps;
  readonly #building = new Map<string, Promise<PoolGroup>>();
  readonly #groups = new Map<string, PoolGroup>();
  /** Pools whose host lost the primary role: nothing they finish for a writer is acknowledged. */
  readonly #demoted = new WeakSet<ConnectionPool>();
  #closed = false;

  constructor(deps: PoolManagerDeps) {
    this.#deps = deps;
  }

  /** The pool of the connection's configured `server` (created on first use): its settings are the connection's. */
  async pool(connectionId: string): Promise<ConnectionPool> {
    return (await this.#group(connectionId)).hosts[0]!;
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
    const hostSettings = (slot: number): ConnectionSettings => {
      const r = settings.replicas[slot - 1];
      return r ? { ...settings, server: r.server, port: r.port, replicas: [] } : settings;
    };
    const open = (slot: number) => {
      const pool = new ConnectionPool({
        connectionId,
        role: slot === 0 ? "primary" : "replica",
        settings: hostSettings(slot),
        credentials,
        driver,
        connectTimeoutMs: this.#deps.connectTimeoutMs,
        budget: this.#deps.budget,
      });
      this.#deps.onPool?.(pool, slot);
      return pool;
    };
    const group: PoolGroup = {
      hosts: [open(0), ...settings.replicas.map((_, i) => open(i + 1))],
      open,
      next: 0,
    };
    this.#groups.set(connectionId, group);
    return group;
  }

  /**
   * A session from the connection's current pools, by intent. If the pools are retired while the
   * caller waits (credentials or settings changed, or the primary moved), the caller moves to their
   * successors instead of failing: a credential rotation must not cost a single call. However many
   * hosts and pools it tries, the call ends within the connection's acquireTimeoutMs.
   */
  async acquire(
    connectionId: string,
    intent: Intent = "write",
    options: AcquireOptions = {},
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    return inChildSpan(
      "berth.pool.acquire",
      { "berth.connection_id": connectionId, "berth.intent": intent },
      async (span) => {
        const got = await this.#acquireReset(connectionId, intent, options);
        // The host's role, not its address: settings are sealed, and traces leave the machine.
        span?.setAttribute("berth.pool.role", got.pool.role);
        return got;
      },
    );
  }

  async #acquireReset(
    connectionId: string,
    intent: Intent,
    options: AcquireOptions,
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    const got = await this.#acquireAny(connectionId, intent, options.consistencyToken ?? "");
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
    token: string,
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    let until: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const group = await this.#group(connectionId);
      until ??= performance.now() + group.hosts[0]!.settings.pool.acquireTimeoutMs;
      const atLeast = intent === "read" ? positionOf(token, group.hosts[0]!.settings.type) : undefined;
      try {
        if (group.hosts.length === 1)
          return { pool: group.hosts[0]!, pooled: await group.hosts[0]!.acquire(until) };
        if (intent === "read") return await acquireForRead(this.#deps, connectionId, group, until, atLeast);
        const writer = await writerOf(this.#deps.roles, connectionId, group, until);
        return { pool: writer, pooled: await writer.acquire(until) };
      } catch (err) {
        const retired = err instanceof BerthError && err.details.reason === "pool_retired";
        if (!retired || attempt >= 3) throw err;
      }
    }
  }

  /**
   * The read-your-writes token for what `pooled` just committed on `pool`: only on the primary of
   * a connection with replicas whose engine can tell (undefined otherwise, and if the question
   * fails: the write stands, only the token is missing).
   */
  async writeToken(pool: ConnectionPool, pooled: PooledSession): Promise<string | undefined> {
    const questions = ENGINES[pool.settings.type].replication;
    const hosts = this.#groups.get(pool.connectionId)?.hosts.length ?? 0;
    if (!questions || hosts < 2 || !this.#deps.roles?.isWriter(pool)) return undefined;
    try {
      return tokenOf(pool.settings.type, await questions.writePosition(pooled.session));
    } catch {
      return undefined;
    }
  }

  /**
   * A statement on `pool` failed with `error`: a read-only refusal or a lost connection from the
   * host taking writes suggests the primary moved, and the connection's hosts are checked at once.
   */
  noteFailure(pool: ConnectionPool, error: unknown): void {
    if (!(error instanceof BerthError)) return;
    const code = String(error.details.error_code ?? "");
    const reason = String(error.details.reason ?? "");
    const roles = this.#deps.roles;
    if (READ_ONLY_CODES.has(code) || (reason === "connection_lost" && roles?.isWriter(pool)))
      roles?.checkSoon(pool.connectionId);
  }

  /** The server refused a statement on `pool` with `code` (the front door's ErrorResponses): see noteFailure. */
  noteServerError(pool: ConnectionPool, code: string): void {
    if (READ_ONLY_CODES.has(code)) this.#deps.roles?.checkSoon(pool.connectionId);
  }

  /** Whether `pool`'s host lost the primary role since the pool was made (see demote). */
  demoted(pool: ConnectionPool): boolean {
    return this.#demoted.has(pool);
  }

  /**
   * The host of `pool` lost the primary role (it follows another now, or was fenced, or another
   * host took writes): its pool is retired — a front-door client holding on to it sees it closed,
   * sessions in use finish and close, callers waiting move to the successors — and replaced by a
   * fresh pool for the same host, which serves it in its new role.
   */
  demote(pool: ConnectionPool, graceMs = 30_000): void {
    const group = this.#groups.get(pool.connectionId);
    const slot = group?.hosts.indexOf(pool) ?? -1;
    if (!group || slot < 0) return;
    this.#demoted.add(pool);
    group.hosts[slot] = group.open(slot);
    this.#deps.onDemoted?.(pool);
    void pool.close(graceMs, "retired");
  }

  /** Every open pool of a connection, its `server`'s first (for statistics; never creates one). */
  poolsOf(connectionId: string): ConnectionPool[] {
    return [...(this.#groups.get(connectionId)?.hosts ?? [])];
  }

  /** Every open pool of every connection. */
  all(): ConnectionPool[] {
    return [...this.#groups.values()].flatMap((g) => g.hosts);
  }

  /** The connection changed or was deleted: stop using its pools; they close once their sessions return. */
  retire(connectionId: string, graceMs = 30_000): Promise<void> {
    const group = this.#groups.get(connectionId);
    this.#groups.delete(connectionId);
    this.#building.delete(connectionId);
    if (!group) return Promise.resolve();
    this.#deps.onRetire?.(connectionId);
    return Promise.all(group.hosts.map((p) => p.close(graceMs, "retired"))).then(() => {});
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
