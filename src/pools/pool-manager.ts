import type { ConnectionSettings, Credentials } from "../connections/settings.js";
import type { Driver } from "../drivers/driver.js";
import { CLEARTEXT_PASSWORD_REFUSED } from "../engines/cleartext-refusal.js";
import { ENGINES, type EngineId } from "../engines/index.js";
import { BerthError, UnavailableError, UnimplementedError } from "../errors/berth-error.js";
import { inChildSpan } from "../observability/tracing.js";
import type { SessionBudget } from "./budget.js";
import { positionOf, tokenOf } from "./consistency.js";
import { ConnectionPool, type PooledSession, type PoolStatsSnapshot } from "./pool.js";
import { mayFallBack } from "./read-fallback.js";

export type Intent = "read" | "write";

export interface PoolManagerDeps {
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
  /** The hosts' observed roles (health checks); absent: every host keeps its configured role. */
  roles?: RoleSource;
  /** A host lost the primary role and its pool was replaced: end what holds its sessions. */
  onDemoted?(old: ConnectionPool): void;
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

export interface AcquireOptions {
  /** Take a session as a front-door client left it (its settings kept). */
  acceptState?: boolean;
  /**
   * A READ's read-your-writes token (Completion.consistency_token): only a replica that has
   * replayed that far serves it, else the primary. "" or absent: any replica.
   */
  consistencyToken?: string;
}

/**
 * A connection's pools, one per configured host: its `server` first, then its replicas. Which
 * host is the primary is observed, not configured: the pool in any slot may be the one writes go
 * to. A pool whose host loses the primary role is replaced by a fresh one for that host.
 */
interface PoolGroup {
  hosts: ConnectionPool[];
  /** Opens a pool for the host in `slot` (a replacement keeps the settings and credentials). */
  open(slot: number): ConnectionPool;
  /** Rotates where a read starts among equally loaded replicas. */
  next: number;
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
        if (intent === "read") return await this.#acquireForRead(connectionId, group, until, atLeast);
        const writer = await this.#writer(connectionId, group, until);
        return { pool: writer, pooled: await writer.acquire(until) };
      } catch (err) {
        const retired = err instanceof BerthError && err.details.reason === "pool_retired";
        if (!retired || attempt >= 3) throw err;
      }
    }
  }

  /** The pool writes go to now; no_primary when no host is one. */
  async #writer(connectionId: string, group: PoolGroup, until: number): Promise<ConnectionPool> {
    const roles = this.#deps.roles;
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
  async #acquireForRead(
    connectionId: string,
    group: PoolGroup,
    until: number,
    atLeast: string | undefined,
  ): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    let passed: BerthError | undefined;
    const usable = this.#deps.usable ?? (() => true);
    for (const replica of this.#readCandidates(connectionId, group)) {
      const refused = this.#deps.refusal?.(replica);
      if (refused) throw replicaRefused(replica, refused);
      if (!usable(replica)) continue;
      try {
        const pooled = await replica.acquire(until);
        if (atLeast === undefined || (await this.#replayed(replica, pooled, atLeast)))
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
        this.#deps.onReplicaRefused?.(replica, reason);
        throw replicaRefused(replica, reason, err);
      }
    }
    // A replica that did not answer used up the caller's time: its answer, not the primary's.
    if (passed && performance.now() >= until) throw passed;
    const roles = this.#deps.roles;
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
  async #replayed(pool: ConnectionPool, pooled: PooledSession, atLeast: string): Promise<boolean> {
    const questions = ENGINES[pool.settings.type].replication;
    if (!questions) return true;
    const seen = this.#deps.roles?.position(pool);
    if (seen && (questions.compare(seen, atLeast) ?? -1) >= 0) return true;
    try {
      if (await questions.hasReplayed(pooled.session, atLeast)) return true;
      void pool.release(pooled, { reset: false }).catch(() => {});
    } catch {
      void pool.destroy(pooled);
    }
    return false;
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

  /** The replicas a READ may try, the least busy first; rotation breaks ties so that idle replicas share the load. */
  #readCandidates(connectionId: string, group: PoolGroup): ConnectionPool[] {
    const roles = this.#deps.roles;
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

/** No host takes writes: said at once, with what each host is, rather than a timeout per call. */
function noPrimary(group: PoolGroup, intent: Intent = "write"): UnavailableError {
  const what =
    intent === "write"
      ? "writes cannot be served until a host is promoted (or the primary is back)"
      : "no replica can serve this read either";
  return new UnavailableError(`No host of this connection is a primary now: ${what}. Retry later`, {
    reason: "no_primary",
    hosts: group.hosts.length,
  });
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
