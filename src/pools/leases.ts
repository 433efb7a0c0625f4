import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { NotFoundError, ValidationError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionPool, PooledSession } from "./pool.js";
import type { Intent, PoolManager } from "./pool-manager.js";

export const DEFAULT_IDLE_TTL_MS = 60_000;
export const MAX_IDLE_TTL_MS = 3_600_000;

/** Why a lease ended, as a closed set for metrics and audit. */
export type LeaseEndReason = "released" | "expired" | "stream_closed" | "connection_lost" | "shutdown";

export interface Lease {
  readonly id: string;
  readonly connectionId: string;
  readonly principalId: string;
  readonly pool: ConnectionPool;
  readonly pooled: PooledSession;
  readonly idleTtlMs: number;
  /** Epoch ms after which an idle lease is reclaimed. */
  expiresAt: number;
  inTransaction: boolean;
  /** Calls on one lease run one at a time, in order. */
  tail: Promise<unknown>;
  busy: number;
  ended: boolean;
}

export interface LeaseEvents {
  opened: [Lease];
  ended: [Lease, LeaseEndReason];
}

/**
 * Leases: one pooled session reserved for one principal until released, expired, or (for session
 * streams) the stream ends. Ending a lease rolls back, resets the session and returns it exactly
 * once. A lease id alone grants nothing: every lookup checks the principal.
 */
export class LeaseManager extends EventEmitter<LeaseEvents> {
  readonly #pools: PoolManager;
  readonly #leases = new Map<string, Lease>();
  readonly #reaper: NodeJS.Timeout;
  readonly #now: () => number;

  constructor(pools: PoolManager, options: { reapIntervalMs?: number; now?: () => number } = {}) {
    super();
    this.#pools = pools;
    this.#now = options.now ?? Date.now;
    this.#reaper = setInterval(() => this.#reap(), options.reapIntervalMs ?? 1_000);
    this.#reaper.unref();
  }

  static idleTtl(requested: number): number {
    if (requested === 0) return DEFAULT_IDLE_TTL_MS;
    if (requested < 1_000 || requested > MAX_IDLE_TTL_MS) {
      throw ValidationError.field("idleTtlMs", `must be from 1000 to ${MAX_IDLE_TTL_MS} milliseconds`);
    }
    return requested;
  }

  async open(
    principal: Principal,
    connectionId: string,
    idleTtlMs: number,
    intent: Intent = "write",
  ): Promise<Lease> {
    const ttl = LeaseManager.idleTtl(idleTtlMs);
    const { pool, pooled } = await this.#pools.acquire(connectionId, intent);
    const lease: Lease = {
      id: `lease_${randomBytes(18).toString("base64url")}`,
      connectionId,
      principalId: principal.userId,
      pool,
      pooled,
      idleTtlMs: ttl,
      expiresAt: this.#now() + ttl,
      inTransaction: false,
      tail: Promise.resolve(),
      busy: 0,
      ended: false,
    };
    this.#leases.set(lease.id, lease);
    this.emit("opened", lease);
    return lease;
  }

  /** The caller's lease by id; anyone else's, or an ended one, is not found. */
  find(principal: Principal, leaseId: string): Lease {
    const lease = this.#leases.get(leaseId);
    if (!lease || lease.ended || lease.principalId !== principal.userId)
      throw new NotFoundError("lease", leaseId);
    return lease;
  }

  touch(lease: Lease): void {
    lease.expiresAt = this.#now() + lease.idleTtlMs;
  }

  /** Runs `fn` on the lease after whatever runs on it now; keeps the lease alive meanwhile. */
  async use<T>(lease: Lease, fn: () => Promise<T>): Promise<T> {
    const run = lease.tail.then(async () => {
      if (lease.ended) throw new NotFoundError("lease", lease.id);
      lease.busy++;
      try {
        return await fn();
      } finally {
        lease.busy--;
        this.touch(lease);
      }
    });
    lease.tail = run.catch(() => {});
    return run;
  }

  /** Ends a lease: rollback + reset + back to the pool, or destroyed if the session is broken. */
  async end(lease: Lease, reason: LeaseEndReason): Promise<void> {
    if (lease.ended) return;
    lease.ended = true;
    this.#leases.delete(lease.id);
    this.emit("ended", lease, reason);
    // Let a call in flight finish (its caller has been told to cancel) before the session moves on.
    await lease.tail;
    if (lease.pooled.session.healthy && reason !== "connection_lost") {
      await lease.pool.release(lease.pooled, { reset: true });
    } else {
      await lease.pool.destroy(lease.pooled);
    }
  }

  get active(): number {
    return this.#leases.size;
  }

  #reap(): void {
    const now = this.#now();
    for (const lease of this.#leases.values()) {
      if (lease.busy === 0 && lease.expiresAt <= now) void this.end(lease, "expired");
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#reaper);
    await Promise.all([...this.#leases.values()].map((l) => this.end(l, "shutdown")));
  }
}
