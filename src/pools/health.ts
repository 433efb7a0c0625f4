import { EventEmitter } from "node:events";
import type { ConnectionStatusId } from "../connections/settings.js";
import { freshSnapshot, type HostHealthSnapshot, hostKey } from "./host-snapshot.js";
import type { ConnectionPool } from "./pool.js";
import { mayFallBack } from "./read-fallback.js";
import { decideRoles } from "./role-decision.js";
import { type DurableRoles, RoleMemories } from "./role-memory.js";
import { observable, probeRoles, replicationFields } from "./role-observation.js";
import { NOT_ANSWERING, UNREACHABLE } from "./unreachable.js";
import type { HealthEvents, Watched } from "./watched-host.js";

export interface HealthMonitorOptions {
  /** Between checks of a healthy connection. */
  intervalMs: number;
  /** Bound of one check. */
  timeoutMs: number;
  /** First retry after a failure; doubles up to intervalMs. Also the least time between urgent checks. */
  minBackoffMs: number;
  /**
   * Where a connection's role memory (highest timeline seen, when each host became writable)
   * outlives Berth: a restarted Berth still fences an old primary that comes back behind. Without
   * it, what Berth saw is forgotten at a restart or a pool reset.
   */
  durable?: DurableRoles;
}

/**
 * Background checks of every open pool's server: a probe on a session of its own, every intervalMs
 * while healthy, with doubling backoff while not. Each check also asks the host what it is (the
 * engine's replication question: in recovery or not, timeline, lag), and the connection's roles
 * are decided again from the answers (role-decision.ts, roles.ts): which host takes writes, which is fenced. Emits
 * `change` when a status changes, which is what WatchConnectionStatus streams. A failed check also
 * flushes the pool's idle sessions' chance of being handed out dead: they fail validation on
 * borrow and are replaced.
 */
export class HealthMonitor extends EventEmitter<HealthEvents> {
  readonly #watched = new Map<string, Watched>();
  readonly #roles: RoleMemories;
  readonly #options: HealthMonitorOptions;
  /** Callers of settle() waiting for a check to end (woken by every one; few, and only at first use). */
  readonly #waiting = new Set<() => void>();
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    super();
    this.#options = options;
    this.#roles = new RoleMemories(options.durable, (id) => {
      this.#decide(id);
      this.#wake();
    });
  }

  /**
   * Checks `pool`'s host from now on. A pool that replaces another of the same host (its host lost
   * the primary role) keeps what was observed of the host.
   */
  watch(pool: ConnectionPool, slot = pool.role === "primary" ? 0 : 1): void {
    const key = hostKey(pool);
    const previous = this.#watched.get(key);
    if (previous?.timer) clearTimeout(previous.timer);
    const w: Watched = {
      pool,
      slot,
      snapshot: previous?.snapshot ?? freshSnapshot(pool, slot),
      replication: previous?.replication,
      answering: previous?.answering ?? false,
      checked: previous?.checked ?? false,
      timer: undefined,
      dueAt: 0,
      lastStartedAt: 0,
      backoffMs: this.#options.minBackoffMs,
      running: false,
    };
    this.#watched.set(key, w);
    this.#roles.of(pool.connectionId);
    // A failed session open is news: a host that cannot be reached (or does not answer) is shown
    // unavailable at once, with why, rather than a check later; and a check runs now to confirm.
    pool.on("createFailed", (failure) => {
      if (this.#watched.get(key) !== w) return;
      const reason = String(failure.details.reason ?? "");
      if (UNREACHABLE.has(reason)) this.#mark(w, "unavailable", reason);
      if (!w.running) this.#schedule(w, 0);
    });
    // A session opened while the host was marked down: it may be back; check now, not after the backoff.
    pool.on("created", () => {
      if (this.#watched.get(key) !== w || w.running) return;
      if (w.snapshot.status === "unavailable" || w.snapshot.status === "failed") this.#schedule(w, 0);
    });
    this.#schedule(w, 0);
  }

  /** Stops checking every host of a connection, and forgets its roles (its hosts may have changed). */
  unwatch(connectionId: string): void {
    for (const [key, w] of this.#watched) {
      if (w.pool.connectionId !== connectionId) continue;
      if (w.timer) clearTimeout(w.timer);
      this.#watched.delete(key);
    }
    this.#roles.forget(connectionId);
    this.#wake();
  }

  /** Every host of a connection with an open pool: the one taking writes first, then in configuration order. */
  hosts(connectionId: string): HostHealthSnapshot[] {
    return this.#of(connectionId)
      .sort((a, b) => Number(b.snapshot.writer) - Number(a.snapshot.writer) || a.slot - b.slot)
      .map((w) => w.snapshot);
  }

  /**
   * The connection's health from its hosts' checks; undefined before any check. With roles
   * observed, no host taking writes is `degraded` while another serves reads.
   */
  status(connectionId: string): ConnectionStatusId | undefined {
    const checked = this.#of(connectionId).filter((w) => w.snapshot.status !== "untested");
    if (checked.length === 0) return undefined;
    const down = checked.filter((w) => w.snapshot.status === "unavailable" || w.snapshot.status === "failed");
    const main = this.observed(connectionId)
      ? (checked.find((w) => w.snapshot.writer) ?? checked.find((w) => w.slot === 0) ?? checked[0]!)
      : (checked.find((w) => w.slot === 0) ?? checked[0]!);
    const writerless = this.noPrimary(connectionId);
    const fenced = checked.some((w) => w.snapshot.fenced);
    if (down.length === 0 && !writerless && !fenced) return main.snapshot.status;
    return down.length < checked.length ? "degraded" : main.snapshot.status;
  }

  /** Roles are observed and no host takes writes: writes fail with no_primary. */
  noPrimary(connectionId: string): boolean {
    const ws = this.#of(connectionId);
    return ws.length > 1 && ws.some((w) => w.replication) && !ws.some((w) => w.snapshot.writer);
  }

  /** Whether a pool's host may be given work: not known to be down (untested counts as usable). */
  usable(pool: ConnectionPool): boolean {
    const status = this.#watched.get(hostKey(pool))?.snapshot.status;
    return status !== "unavailable" && status !== "failed";
  }

  /**
   * Why a host refuses Berth, when it does for a reason a READ must not hide by going elsewhere
   * (see mayFallBack); undefined while it serves or is merely unreachable.
   */
  refusal(pool: ConnectionPool): string | undefined {
    const snapshot = this.#watched.get(hostKey(pool))?.snapshot;
    return snapshot?.status === "failed" && !mayFallBack(snapshot.lastErrorReason)
      ? snapshot.lastErrorReason
      : undefined;
  }

  /** A session open to the host was refused (`reason`): shown in the status now, re-checked later. */
  markRefused(pool: ConnectionPool, reason: string): void {
    const w = this.#watched.get(hostKey(pool));
    if (!w || w.pool !== pool) return;
    this.#mark(w, "failed", reason);
    if (!w.running) this.#schedule(w, w.backoffMs);
  }

  /** Whether any host of the connection has answered the replication question: roles are observed. */
  observed(connectionId: string): boolean {
    return this.#of(connectionId).some((w) => w.replication !== undefined);
  }

  /** The host's position at its last check (the primary's WAL position, a replica's replayed one). */
  position(pool: ConnectionPool): string | undefined {
    const w = this.#watched.get(hostKey(pool));
    return w?.pool === pool ? w.replication?.position : undefined;
  }

  /** Whether writes go to this host now (roles observed). */
  isWriter(pool: ConnectionPool): boolean {
    const w = this.#watched.get(hostKey(pool));
    return w?.pool === pool && w.snapshot.writer;
  }

  /**
   * Whether the host may serve reads as a replica: it answered as one, is not fenced, and lags no
   * more than `maxLagMs` (0: any lag; an unknown lag counts as too much when there is a bound).
   */
  readable(pool: ConnectionPool, maxLagMs: number): boolean {
    const w = this.#watched.get(hostKey(pool));
    if (!w || w.pool !== pool || w.snapshot.fenced) return false;
    if (!w.replication) return pool.role === "replica";
    if (!w.replication.standby) return false;
    const lag = w.snapshot.replicaLagMs;
    return maxLagMs === 0 || (lag !== undefined && lag <= maxLagMs);
  }

  /**
   * Resolves once every host of the connection has been checked once (or `until`, a
   * performance.now() time, came), so that the first writes after a start (or a reset) go to the
   * host the checks chose, not to one that answered first: an old primary back on its old timeline
   * must not take writes because the newer one had not answered yet.
   */
  async settle(connectionId: string, until: number): Promise<void> {
    const settled = () =>
      this.#roles.peek(connectionId)?.loaded !== false &&
      this.#of(connectionId).every((w) => w.checked || !observable(w.pool));
    while (!settled() && performance.now() < until && !this.#closed) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(0, until - performance.now()));
        this.#waiting.add(wake);
      });
    }
  }

  #wake(): void {
    for (const wake of [...this.#waiting]) wake();
  }

  /**
   * Something suggests the roles moved (a write found no primary, or a host said it is read-only):
   * checks every host of the connection now, or, for one checked less than minBackoffMs ago, as
   * soon as that much time has passed (never later than its next check was due). A check running
   * now answers.
   */
  checkSoon(connectionId: string): void {
    const now = performance.now();
    for (const w of this.#of(connectionId)) {
      const delay = Math.max(0, this.#options.minBackoffMs - (now - w.lastStartedAt));
      if (!w.running && (!w.timer || now + delay < w.dueAt)) this.#schedule(w, delay);
    }
  }

  #of(connectionId: string): Watched[] {
    return [...this.#watched.values()].filter((w) => w.pool.connectionId === connectionId);
  }

  #mark(w: Watched, status: "failed" | "unavailable", reason: string): void {
    const before = w.snapshot;
    w.answering = false;
    w.snapshot = { ...before, status, lastCheckedAt: new Date(), lastErrorReason: reason };
    if (before.status !== status || before.lastErrorReason !== reason)
      this.emit("change", w.pool.connectionId, w.snapshot);
    this.#decide(w.pool.connectionId);
  }

  /** Decides the connection's roles again from its hosts' last answers (role-decision.ts). */
  #decide(connectionId: string): void {
    decideRoles(connectionId, this.#of(connectionId), this.#roles, this);
  }

  #schedule(w: Watched, delayMs: number): void {
    if (this.#closed) return;
    if (w.timer) clearTimeout(w.timer);
    w.dueAt = performance.now() + delayMs;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.#check(w);
    }, delayMs);
    w.timer.unref();
  }

  async #check(w: Watched): Promise<void> {
    if (this.#closed || this.#watched.get(hostKey(w.pool)) !== w || w.running) return;
    w.running = true;
    w.lastStartedAt = performance.now();
    const before = w.snapshot.status;
    try {
      const { latency, replication } = await probeRoles(w.pool, this.#options.timeoutMs);
      w.answering = true;
      if (replication) w.replication = replication;
      w.snapshot = {
        ...w.snapshot,
        status: "healthy",
        lastCheckedAt: new Date(),
        lastErrorReason: "",
        lastLatencyMs: latency,
        ...(replication ? replicationFields(replication) : {}),
      };
      w.backoffMs = this.#options.minBackoffMs;
    } catch (err) {
      const described = w.pool.driver.describeError(err).reason;
      // The probe's connect (or ping) got no answer in time: the host is there but silent.
      const reason = described === "timeout" ? NOT_ANSWERING : described;
      w.answering = false;
      w.snapshot = {
        ...w.snapshot,
        status: UNREACHABLE.has(reason) ? "unavailable" : "failed",
        lastCheckedAt: new Date(),
        lastErrorReason: reason,
      };
    } finally {
      w.running = false;
      w.checked = true;
    }
    if (this.#watched.get(hostKey(w.pool)) !== w) return;
    if (w.snapshot.status !== before) this.emit("change", w.pool.connectionId, w.snapshot);
    this.#decide(w.pool.connectionId);
    this.#wake();
    if (w.snapshot.status === "healthy") {
      this.#schedule(w, this.#options.intervalMs);
    } else {
      this.#schedule(w, w.backoffMs);
      w.backoffMs = Math.min(this.#options.intervalMs, w.backoffMs * 2);
    }
  }

  close(): void {
    this.#closed = true;
    this.#wake();
    for (const w of this.#watched.values()) if (w.timer) clearTimeout(w.timer);
    this.#watched.clear();
  }
}
