import { EventEmitter } from "node:events";
import type { ConnectionStatusId } from "../connections/settings.js";
import type { ConnectionPool } from "./pool.js";
import { NOT_ANSWERING, UNREACHABLE } from "./unreachable.js";

export { UNREACHABLE };

export interface HostHealthSnapshot {
  server: string;
  port: number;
  role: "primary" | "replica";
  status: ConnectionStatusId;
  lastCheckedAt: Date | undefined;
  lastErrorReason: string;
  lastLatencyMs: number;
}

/**
 * Reached, but it cannot serve right now for reasons that say nothing about who it is. With the
 * unreachable ones, the only failures a READ may leave a replica for: any other (a refused sign-in,
 * a certificate that does not verify) means the host may not be the replica it was saved as.
 */
const PASSING: ReadonlySet<string> = new Set([
  "server_starting",
  "server_shutting_down",
  "too_many_connections",
  "pool_closed",
  // The connection budget shared by the instances could not be asked (Redis): says nothing of the host.
  "budget_unavailable",
]);

/** Whether a replica that failed with `reason` may have its READ served elsewhere. */
export function mayFallBack(reason: string): boolean {
  // A host the target policy denies was never contacted: it learned nothing and proved nothing.
  return UNREACHABLE.has(reason) || PASSING.has(reason) || reason === "target_denied";
}

const keyOf = (pool: ConnectionPool) => `${pool.connectionId}|${pool.role}|${pool.host}`;

export interface HealthMonitorOptions {
  /** Between checks of a healthy connection. */
  intervalMs: number;
  /** Bound of one check. */
  timeoutMs: number;
  /** First retry after a failure; doubles up to intervalMs. */
  minBackoffMs: number;
}

interface Watched {
  pool: ConnectionPool;
  snapshot: HostHealthSnapshot;
  timer: NodeJS.Timeout | undefined;
  backoffMs: number;
  running: boolean;
}

/**
 * Background checks of every open pool's server: a probe on a session of its own, every intervalMs
 * while healthy, with doubling backoff while not. Emits `change` when a status changes, which is
 * what WatchConnectionStatus streams. A failed check also flushes the pool's idle sessions' chance
 * of being handed out dead: they fail validation on borrow and are replaced.
 */
export class HealthMonitor extends EventEmitter<{ change: [string, HostHealthSnapshot] }> {
  readonly #watched = new Map<string, Watched>();
  readonly #options: HealthMonitorOptions;
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    super();
    this.#options = options;
  }

  watch(pool: ConnectionPool): void {
    const previous = this.#watched.get(keyOf(pool));
    if (previous?.timer) clearTimeout(previous.timer);
    const w: Watched = {
      pool,
      snapshot: {
        server: pool.settings.server,
        port: pool.settings.port,
        role: pool.role,
        status: "untested",
        lastCheckedAt: undefined,
        lastErrorReason: "",
        lastLatencyMs: 0,
      },
      timer: undefined,
      backoffMs: this.#options.minBackoffMs,
      running: false,
    };
    this.#watched.set(keyOf(pool), w);
    // A failed session open is news: a host that cannot be reached (or does not answer) is shown
    // unavailable at once, with why, rather than a check later; and a check runs now to confirm.
    pool.on("createFailed", (failure) => {
      if (this.#watched.get(keyOf(pool)) !== w) return;
      const reason = String(failure.details.reason ?? "");
      if (UNREACHABLE.has(reason)) this.#mark(w, "unavailable", reason);
      if (!w.running) this.#schedule(w, 0);
    });
    // A session opened while the host was marked down: it may be back; check now, not after the backoff.
    pool.on("created", () => {
      if (this.#watched.get(keyOf(pool)) !== w || w.running) return;
      if (w.snapshot.status === "unavailable" || w.snapshot.status === "failed") this.#schedule(w, 0);
    });
    this.#schedule(w, 0);
  }

  /** Stops checking every host of a connection. */
  unwatch(connectionId: string): void {
    for (const [key, w] of this.#watched) {
      if (w.pool.connectionId !== connectionId) continue;
      if (w.timer) clearTimeout(w.timer);
      this.#watched.delete(key);
    }
  }

  /** The primary's health. */
  snapshot(connectionId: string): HostHealthSnapshot | undefined {
    return this.hosts(connectionId).find((h) => h.role === "primary");
  }

  /** Every host of a connection with an open pool: the primary first, then its replicas. */
  hosts(connectionId: string): HostHealthSnapshot[] {
    return [...this.#watched.values()]
      .filter((w) => w.pool.connectionId === connectionId)
      .map((w) => w.snapshot)
      .sort((a, b) => (a.role === b.role ? 0 : a.role === "primary" ? -1 : 1));
  }

  /** Whether a pool's host may be given work: not known to be down (untested counts as usable). */
  usable(pool: ConnectionPool): boolean {
    const status = this.#watched.get(keyOf(pool))?.snapshot.status;
    return status !== "unavailable" && status !== "failed";
  }

  /**
   * Why a host refuses Berth, when it does for a reason a READ must not hide by going elsewhere
   * (see mayFallBack); undefined while it serves or is merely unreachable.
   */
  refusal(pool: ConnectionPool): string | undefined {
    const snapshot = this.#watched.get(keyOf(pool))?.snapshot;
    return snapshot?.status === "failed" && !mayFallBack(snapshot.lastErrorReason)
      ? snapshot.lastErrorReason
      : undefined;
  }

  /** A session open to the host was refused (`reason`): shown in the status now, re-checked later. */
  markRefused(pool: ConnectionPool, reason: string): void {
    const w = this.#watched.get(keyOf(pool));
    if (!w || w.pool !== pool) return;
    this.#mark(w, "failed", reason);
    if (!w.running) this.#schedule(w, w.backoffMs);
  }

  #mark(w: Watched, status: "failed" | "unavailable", reason: string): void {
    const before = w.snapshot;
    w.snapshot = { ...before, status, lastCheckedAt: new Date(), lastErrorReason: reason };
    if (before.status !== status || before.lastErrorReason !== reason)
      this.emit("change", w.pool.connectionId, w.snapshot);
  }

  #schedule(w: Watched, delayMs: number): void {
    if (this.#closed) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => void this.#check(w), delayMs);
    w.timer.unref();
  }

  async #check(w: Watched): Promise<void> {
    if (this.#closed || this.#watched.get(keyOf(w.pool)) !== w || w.running) return;
    w.running = true;
    const before = w.snapshot.status;
    try {
      const latency = await w.pool.probe(this.#options.timeoutMs);
      w.snapshot = {
        ...w.snapshot,
        status: "healthy",
        lastCheckedAt: new Date(),
        lastErrorReason: "",
        lastLatencyMs: latency,
      };
      w.backoffMs = this.#options.minBackoffMs;
    } catch (err) {
      const described = w.pool.driver.describeError(err).reason;
      // The probe's connect (or ping) got no answer in time: the host is there but silent.
      const reason = described === "timeout" ? NOT_ANSWERING : described;
      w.snapshot = {
        ...w.snapshot,
        status: UNREACHABLE.has(reason) ? "unavailable" : "failed",
        lastCheckedAt: new Date(),
        lastErrorReason: reason,
      };
    } finally {
      w.running = false;
    }
    if (w.snapshot.status !== before) this.emit("change", w.pool.connectionId, w.snapshot);
    if (w.snapshot.status === "healthy") {
      this.#schedule(w, this.#options.intervalMs);
    } else {
      this.#schedule(w, w.backoffMs);
      w.backoffMs = Math.min(this.#options.intervalMs, w.backoffMs * 2);
    }
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watched.values()) if (w.timer) clearTimeout(w.timer);
    this.#watched.clear();
  }
}
