import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { NotFoundError, ValidationError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import { Lease, type LeaseEndReason, type LeaseKind } from "./lease.js";
import type { Intent, PoolManager } from "./pool-manager.js";
import type { StatementInput, StatementOptions } from "./statement.js";

export { Lease, type LeaseEndReason, type LeaseKind } from "./lease.js";

export const DEFAULT_IDLE_TTL_MS = 60_000;
export const MAX_IDLE_TTL_MS = 3_600_000;
/** However often it is renewed, a lease (or a Session stream) ends after this long by default. */
export const DEFAULT_MAX_LIFETIME_MS = 24 * 3_600_000;

export interface LeaseEvents {
  opened: [Lease];
  ended: [Lease, LeaseEndReason];
  /** Ending a lease from a timer failed (its session could not be returned): for the log. */
  endFailed: [Lease, unknown];
}

export interface LeaseManagerOptions {
  reapIntervalMs?: number;
  now?: () => number;
  /** The longest a lease may live, renewals or not. */
  maxLifetimeMs?: number;
}

/**
 * Leases: one pooled session reserved for one principal until released, expired, past its maximum
 * lifetime, revoked, or (for Session streams) the stream ends. Ending a lease cancels what runs on
 * it, rolls back, resets the session and returns it exactly once. A lease id alone grants nothing:
 * every lookup checks the principal. Every open lease and Session stream is known here, with its
 * principal and connection, so that a change of access can end exactly the ones it concerns.
 */
export class LeaseManager extends EventEmitter<LeaseEvents> {
  readonly #pools: PoolManager;
  readonly #leases = new Map<string, Lease>();
  readonly #reaper: NodeJS.Timeout;
  readonly #now: () => number;
  readonly #maxLifetimeMs: number;
  #guard: ((lease: Lease) => Promise<void>) | undefined;

  constructor(pools: PoolManager, options: LeaseManagerOptions = {}) {
    super();
    this.#pools = pools;
    this.#now = options.now ?? Date.now;
    this.#maxLifetimeMs = options.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS;
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
    kind: LeaseKind = "lease",
    consistencyToken = "",
  ): Promise<Lease> {
    const ttl = LeaseManager.idleTtl(idleTtlMs);
    const { pool, pooled } = await this.#pools.acquire(connectionId, intent, { consistencyToken });
    const now = this.#now();
    const lease = new Lease({
      id: `lease_${randomBytes(18).toString("base64url")}`,
      kind,
      connectionId,
      principal,
      pool,
      pooled,
      idleTtlMs: ttl,
      now: this.#now,
      endsAt: now + this.#maxLifetimeMs,
      onSettled: (l) => {
        if (l.endAfter) this.#endQuietly(l, l.endAfter);
      },
      writeToken: (p, s) => this.#pools.writeToken(p, s),
    });
    try {
      await this.#guard?.(lease);
    } catch (err) {
      // Not opened: the session goes back untouched, and the caller gets the error.
      await pool.release(pooled, { reset: true });
      throw err;
    }
    this.#leases.set(lease.id, lease);
    this.emit("opened", lease);
    return lease;
  }

  /** Must resolve before a lease opens (its audit record); a rejection fails the open. */
  guardOpen(guard: (lease: Lease) => Promise<void>): void {
    this.#guard = guard;
  }

  /** The caller's lease by id; anyone else's, or an ended one, is not found. */
  find(principal: Principal, leaseId: string): Lease {
    const lease = this.#leases.get(leaseId);
    if (!lease || lease.ended || lease.principalId !== principal.userId)
      throw new NotFoundError("lease", leaseId);
    return lease;
  }

  /** RenewLease: another idle TTL, up to the lease's maximum lifetime. */
  renew(lease: Lease): Lease {
    lease.touch();
    return lease;
  }

  /**
   * Runs a statement on the lease in its turn. A session the statement left broken ends the lease
   * (the session is destroyed, not returned).
   */
  async *run(lease: Lease, statement: StatementInput, options: StatementOptions) {
    try {
      yield* lease.run(statement, options);
    } catch (err) {
      this.#pools.noteFailure(lease.pool, err);
      throw err;
    } finally {
      if (!lease.pooled.session.healthy) this.#endQuietly(lease, "connection_lost");
    }
  }

  /** Ends a lease: rollback + reset + back to the pool, or destroyed if the session is broken. */
  async end(lease: Lease, reason: LeaseEndReason): Promise<void> {
    if (lease.ended) return;
    this.#leases.delete(lease.id);
    // Aborts the call in flight and waits for it to let go before the session moves on.
    const ending = lease.markEnded(reason);
    this.emit("ended", lease, reason);
    await ending;
    if (lease.pooled.session.healthy && reason !== "connection_lost") {
      await lease.pool.release(lease.pooled, { reset: true });
    } else {
      await lease.pool.destroy(lease.pooled);
    }
  }

  /**
   * Ends every open lease and Session stream the predicate selects (a revoked grant, a disabled
   * user, a sign-out): each is rolled back, reset and returned, and its next call fails. Resolves
   * with how many were ended, once their sessions are back in the pool.
   */
  async endWhere(predicate: (lease: Lease) => boolean, reason: LeaseEndReason): Promise<number> {
    const chosen = [...this.#leases.values()].filter(predicate);
    await Promise.all(chosen.map((l) => this.end(l, reason)));
    return chosen.length;
  }

  /**
   * Ends the leases the predicate selects once their current transaction ends — at once for those
   * with none open and nothing running (a host that lost the primary role). Returns how many.
   */
  endAfterTransaction(predicate: (lease: Lease) => boolean, reason: LeaseEndReason): number {
    const chosen = [...this.#leases.values()].filter(predicate);
    for (const lease of chosen) {
      lease.endAfterTransaction(reason);
      if (lease.settled) this.#endQuietly(lease, reason);
    }
    return chosen.length;
  }

  /** Every open lease and Session stream (for status and revocation). */
  list(): Lease[] {
    return [...this.#leases.values()];
  }

  get active(): number {
    return this.#leases.size;
  }

  /** Ends a lease from a timer or a finally: a failure to return its session must not go unhandled. */
  #endQuietly(lease: Lease, reason: LeaseEndReason): void {
    this.end(lease, reason).catch((err: unknown) => this.emit("endFailed", lease, err));
  }

  #reap(): void {
    const now = this.#now();
    for (const lease of this.#leases.values()) {
      // The maximum lifetime is absolute: a busy lease is cut short too (its statement cancelled).
      if (lease.endsAt <= now) this.#endQuietly(lease, "max_lifetime");
      else if (lease.busy === 0 && lease.expiresAt <= now) this.#endQuietly(lease, "expired");
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#reaper);
    await Promise.all([...this.#leases.values()].map((l) => this.end(l, "shutdown")));
  }
}
