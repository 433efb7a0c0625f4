import type { IsolationLevelId } from "../drivers/driver.js";
import {
  type BerthError,
  DeadlineExceededError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionPool } from "./pool.js";
import type { PooledSession } from "./pool-types.js";
import { unacknowledged } from "./roles.js";
import { runStatement, type StatementInput, type StatementOptions } from "./statement.js";

/** Why a lease ended, as a closed set for metrics and audit. */
export type LeaseEndReason =
  | "released"
  | "expired"
  | "max_lifetime"
  | "stream_closed"
  | "connection_lost"
  | "revoked"
  | "session_ended"
  | "primary_changed"
  | "shutdown";

/** A lease asked for by AcquireLease, or the one a Session stream holds for its whole life. */
export type LeaseKind = "lease" | "stream";

export interface LeaseInit {
  id: string;
  kind: LeaseKind;
  connectionId: string;
  principal: Principal;
  pool: ConnectionPool;
  pooled: PooledSession;
  idleTtlMs: number;
  now: () => number;
  /** Epoch ms after which the lease ends whatever the caller does. */
  endsAt: number;
  /** Told when a lease marked to end after its transaction (endAfterTransaction) may end now. */
  onSettled?: (lease: Lease) => void;
  /** The read-your-writes token after a commit on the lease's session (PoolManager.writeToken). */
  writeToken?: (pool: ConnectionPool, pooled: PooledSession) => Promise<string | undefined>;
}

/**
 * One pooled session reserved for one principal. Calls on it run one at a time, in order; it keeps
 * its transaction state; when it ends (released, expired, revoked...) its signal aborts, which
 * cancels the statement running on it and ends the Session stream holding it.
 */
export class Lease {
  readonly id: string;
  readonly kind: LeaseKind;
  readonly connectionId: string;
  readonly principal: Principal;
  readonly pool: ConnectionPool;
  readonly pooled: PooledSession;
  readonly idleTtlMs: number;
  /** Epoch ms of the maximum lifetime: no renewal reaches past it. */
  readonly endsAt: number;
  /** Epoch ms after which an idle lease is reclaimed. */
  expiresAt: number;
  readonly #now: () => number;
  readonly #stop = new AbortController();
  #tail: Promise<void> = Promise.resolve();
  #busy = 0;
  #inTransaction = false;
  #endReason: LeaseEndReason | undefined;
  /** Set when its host lost the primary role: the lease ends once no transaction is open on it. */
  #endAfter: LeaseEndReason | undefined;
  readonly #onSettled: ((lease: Lease) => void) | undefined;
  readonly #writeToken: LeaseInit["writeToken"];
  /** The caller's signal joined with the lease's, kept while the caller passes the same one (a stream's). */
  #joined: { outer: AbortSignal; signal: AbortSignal } | undefined;

  constructor(init: LeaseInit) {
    this.id = init.id;
    this.kind = init.kind;
    this.connectionId = init.connectionId;
    this.principal = init.principal;
    this.pool = init.pool;
    this.pooled = init.pooled;
    this.idleTtlMs = init.idleTtlMs;
    this.endsAt = init.endsAt;
    this.#now = init.now;
    this.#onSettled = init.onSettled;
    this.#writeToken = init.writeToken;
    this.expiresAt = Math.min(init.now() + init.idleTtlMs, init.endsAt);
  }

  get principalId(): string {
    return this.principal.userId;
  }
  get busy(): number {
    return this.#busy;
  }
  get inTransaction(): boolean {
    return this.#inTransaction;
  }
  get ended(): boolean {
    return this.#endReason !== undefined;
  }
  get endReason(): LeaseEndReason | undefined {
    return this.#endReason;
  }
  /** Why the lease is to end after its transaction, if it is (see endAfterTransaction). */
  get endAfter(): LeaseEndReason | undefined {
    return this.#endAfter;
  }
  /** Whether nothing runs on the lease and no transaction is open: it may end without cutting anything short. */
  get settled(): boolean {
    return this.#busy === 0 && !this.#inTransaction;
  }

  /**
   * The lease's host lost the primary role: the lease ends once its current transaction does (at
   * once when none is open). Until then nothing on it is acknowledged as written there: a COMMIT
   * rolls back instead and fails, and a statement outside a transaction fails at its completion
   * (its outcome is unknown to the caller, and the host's writes are no longer the connection's).
   */
  endAfterTransaction(reason: LeaseEndReason): void {
    this.#endAfter ??= reason;
  }

  /** Aborted when the lease ends. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** Keeps an idle lease alive for another idle TTL, never past its maximum lifetime. */
  touch(): void {
    this.expiresAt = Math.min(this.#now() + this.idleTtlMs, this.endsAt);
  }

  /** Runs a statement after whatever runs on the lease now, holding it busy until the last chunk. */
  async *run(statement: StatementInput, options: StatementOptions) {
    const leave = await this.#enter();
    try {
      const signal = this.#joinedSignal(options.signal);
      for await (const chunk of runStatement(this.pooled, this.pool.driver, statement, {
        ...options,
        signal,
      })) {
        if (!chunk.completion || this.#inTransaction) {
          if (chunk.completion) this.pool.recordQuery(chunk.durationMs ?? 0);
          yield chunk;
          continue;
        }
        this.pool.recordQuery(chunk.durationMs ?? 0);
        // Outside a transaction the statement committed by itself: a write's token, unless its
        // host lost the primary role meanwhile (then it is not acknowledged at all).
        const token = await this.#writeToken?.(this.pool, this.pooled);
        if (this.#endAfter) throw unacknowledged();
        yield token ? { ...chunk, consistencyToken: token } : chunk;
      }
    } catch (err) {
      // A statement cut short because the lease ended reports why the lease ended.
      throw this.ended ? this.endedError() : err;
    } finally {
      leave();
    }
  }

  async begin(isolation: IsolationLevelId | undefined, readOnly: boolean): Promise<void> {
    await this.#use(async () => {
      if (this.#inTransaction)
        throw ValidationError.field("begin", "a transaction is already open on this lease");
      await this.pooled.session.begin(isolation, readOnly);
      this.#inTransaction = true;
    });
  }

  /** Ends the lease's transaction; after a commit on the primary of a connection with replicas, answers its read-your-writes token. */
  async finish(action: "commit" | "rollback"): Promise<string | undefined> {
    return await this.#use(async () => {
      this.#inTransaction = false;
      if (action === "commit" && this.#endAfter) {
        await this.pooled.session.rollback();
        throw new UnavailableError(
          "The primary moved to another host during this transaction: it was rolled back, not committed on the old primary. Open a new lease and run it again",
          { reason: "primary_changed" },
        );
      }
      if (action === "rollback") {
        await this.pooled.session.rollback();
        return undefined;
      }
      await this.pooled.session.commit();
      return await this.#writeToken?.(this.pool, this.pooled);
    });
  }

  /**
   * Marks the lease ended and aborts what runs on it; resolves once the call in flight (told to
   * cancel) has let go of the session. Returns false if it had already ended.
   */
  async markEnded(reason: LeaseEndReason): Promise<boolean> {
    if (this.#endReason) return false;
    this.#endReason = reason;
    this.#stop.abort(this.endedError());
    await this.#tail;
    return true;
  }

  /** What a call on the lease is told once it has ended. */
  endedError(): BerthError {
    switch (this.#endReason) {
      case "revoked":
        return new PermissionDeniedError(
          "Access to this connection was revoked; the lease was ended",
          "access_revoked",
        );
      case "session_ended":
        return new UnauthenticatedError(
          "The sign-in or service token that opened this lease has ended (signed out, revoked, disabled or expired); the lease was ended",
          "session_ended",
        );
      case "max_lifetime":
        return new DeadlineExceededError("The lease reached its maximum lifetime and was ended", {
          reason: "lease_max_lifetime",
        });
      case "shutdown":
        return new UnavailableError("Berth is shutting down; the lease was ended", {
          reason: "shutting_down",
        });
      case "connection_lost":
        return new UnavailableError("The database connection of this lease was lost", {
          reason: "connection_lost",
        });
      case "primary_changed":
        return new UnavailableError(
          "The lease's host is no longer the primary; the lease was ended after its transaction. Open a new one",
          { reason: "primary_changed" },
        );
      default:
        return new NotFoundError("lease", this.id);
    }
  }

  /**
   * AbortSignal.any per statement costs an allocation and a registration on both sources (and GC
   * work for each): a session stream passes the same signal to every statement, so it is joined once.
   */
  #joinedSignal(outer: AbortSignal): AbortSignal {
    if (this.#joined?.outer !== outer)
      this.#joined = { outer, signal: AbortSignal.any([outer, this.#stop.signal]) };
    return this.#joined.signal;
  }

  /** Waits for the lease's turn; the returned function gives the turn back. */
  async #enter(): Promise<() => void> {
    const previous = this.#tail;
    let done!: () => void;
    this.#tail = new Promise<void>((r) => {
      done = r;
    });
    await previous;
    if (this.ended) {
      done();
      throw this.endedError();
    }
    this.#busy++;
    return () => {
      this.#busy--;
      this.touch();
      done();
      if (this.#endAfter && this.settled) this.#onSettled?.(this);
    };
  }

  async #use<T>(fn: () => Promise<T>): Promise<T> {
    const leave = await this.#enter();
    try {
      return await fn();
    } finally {
      leave();
    }
  }
}
