import { EventEmitter } from "node:events";
import type { ConnectionSettings } from "../connections/settings.js";
import type { Driver, DriverSession } from "../drivers/driver.js";
import { BerthError } from "../errors/berth-error.js";
import { within } from "./bounded.js";
import { NoPermit, type Permit } from "./budget.js";
import { HostOpener } from "./host-opener.js";
import { OpenTimedOut, poolClosed, waitEndedByClose, whyNoSession } from "./pool-errors.js";
import { PoolPermits } from "./pool-permits.js";
import type {
  ConnectionPoolOptions,
  DestroyReason,
  PoolEvents,
  PooledSession,
  PoolStatsSnapshot,
  Waiter,
} from "./pool-types.js";
import { withdraw } from "./pool-waiters.js";
import { RecentDurations } from "./recent.js";
import { spentReason, stillUsable, VALIDATE_AFTER_IDLE_MS } from "./session-fitness.js";

// Time is read from the global `performance` (not node:perf_hooks' export) so tests' fake timers move it.

/**
 * One connection's pool, on pg-pool's model: idle sessions are reused most-recent first; when none is
 * idle and there is room, a session is opened for the caller and a failure to open it fails that
 * caller at once with UNAVAILABLE; when the pool is full, callers wait in order until a session comes
 * back or the acquire timeout answers: pool_exhausted when other callers hold every session,
 * UNAVAILABLE database_not_answering when opens to a host that does not answer hold the slots (they
 * count as `opening`). No caller waits past its acquire timeout, and no open past the connect
 * timeout. Sessions idle too long are pinged before reuse,
 * sessions past their lifetime or idle timeout are closed, and release resets a session exactly once.
 *
 * (generic-pool was the first choice; it retries a failed open in a tight loop for every queued
 * request, and queued requests cannot be withdrawn, so an outage turned into a busy loop and callers
 * that waited for the acquire timeout instead of hearing UNAVAILABLE.)
 */
export class ConnectionPool extends EventEmitter<PoolEvents> {
  readonly connectionId: string;
  readonly role: "primary" | "replica";
  readonly settings: ConnectionSettings;
  readonly #driver: Driver;
  readonly #connectTimeoutMs: number;
  /** Opens sessions to the host and says why an open failed (nothing on a borrowed session's path). */
  readonly #opener: HostOpener;
  /** Idle sessions; the end of the array is the most recently released. */
  readonly #idle: PooledSession[] = [];
  /** Every open session, idle or in use. */
  readonly #all = new Set<PooledSession>();
  readonly #waiters: Waiter[] = [];
  readonly #inUse = new Set<PooledSession>();
  readonly #evictor: NodeJS.Timeout;
  #creating = 0;
  /** The connection budget shared with other instances, when there is one (Redis configured). */
  readonly #permits: PoolPermits | undefined;
  /** Opens waiting for a permit: they hold a slot of maxPoolSize but are not opening yet. */
  #permitting = 0;
  /** Why the last open failed, until one succeeds: tells a caller who timed out what the database did. */
  #lastOpenFailure: { error: BerthError; at: number } | undefined;
  #nextId = 1;
  #closed = false;
  #drained: (() => void) | undefined;

  constructor(options: ConnectionPoolOptions) {
    super();
    this.connectionId = options.connectionId;
    this.role = options.role ?? "primary";
    this.settings = options.settings;
    this.#driver = options.driver;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#opener = new HostOpener(options);
    const every = Math.min(30_000, Math.max(1_000, Math.floor(this.settings.pool.idleTimeoutMs / 2)));
    this.#evictor = setInterval(() => this.#evict(), every);
    this.#evictor.unref();
    this.#permits = options.budget
      ? new PoolPermits(
          options.budget,
          { connectionId: this.connectionId, host: this.host },
          () => this.settings.pool.maxPoolSize,
          (event) => {
            if (event === "lost") this.#evict();
            else if (event === "wanted") this.#shed();
            else this.#refill();
          },
        )
      : undefined;
    this.#topUp();
  }

  /** Slots of maxPoolSize taken: sessions open, being opened, or waiting for a permit to be opened. */
  #taken(): number {
    return this.#all.size + this.#creating + this.#permitting;
  }

  /** How many sessions this pool may hold: maxPoolSize, or its share while other instances wait (budget). */
  #room(): number {
    return this.#permits ? this.#permits.room() : this.settings.pool.maxPoolSize;
  }

  /** Other instances wait for the shared budget and this pool holds more than its share. */
  #aboveShare(): boolean {
    return this.#permits !== undefined && this.#all.size > this.#permits.room();
  }

  /** Another instance wants sessions: idle ones above this pool's share are closed, freeing permits. */
  #shed(): void {
    while (this.#idle.length > 0 && this.#aboveShare()) this.#drop(this.#idle.shift()!, "over_share");
  }

  /** `server:port` of the host this pool opens sessions to. */
  get host(): string {
    return `${this.settings.server}:${this.settings.port}`;
  }

  /**
   * A session for exclusive use; release() or destroy() it exactly once. Whatever happens to the
   * database, the call ends by acquireTimeoutMs (or `deadline`, a performance.now() time, if sooner):
   * validating an idle session, opening one and waiting in the queue all count against that bound.
   */
  async acquire(deadline = Number.POSITIVE_INFINITY): Promise<PooledSession> {
    if (this.#closed) throw poolClosed();
    const started = performance.now();
    const until = Math.min(deadline, started + this.settings.pool.acquireTimeoutMs);
    let unanswered = false;
    for (;;) {
      const idle = this.#idle.pop();
      if (!idle) break;
      // Past its lifetime (or its permit lost) before the evictor got to it: replaced, not handed out.
      const spent = spentReason(idle, this.settings.pool.maxLifetimeMs);
      if (spent) {
        this.#drop(idle, spent);
        continue;
      }
      const usable = await stillUsable(idle, until, this.#connectTimeoutMs);
      if (usable === true) return this.#lend(idle, started);
      unanswered ||= usable === "no_answer";
      this.#drop(idle, "validation_failed");
      if (performance.now() >= until) break;
    }
    if (performance.now() >= until) throw this.#timedOut(started, unanswered);
    if (this.#taken() < this.#room()) {
      try {
        return this.#lend(await this.#openWithin(until, started), started);
      } catch (err) {
        // The shared budget is spent (or cannot be asked): wait in the queue as for a full pool.
        if (!(err instanceof NoPermit)) throw err;
      }
    }
    // With a shared budget, the other instances hear that callers wait here (they keep to their share).
    this.#permits?.waiting();
    return this.#queue(started, until, unanswered);
  }

  /** Waits in order for a session (released, or opened for the queue) until `until`. */
  #queue(started: number, until: number, unanswered: boolean): Promise<PooledSession> {
    return new Promise<PooledSession>((resolve, reject) => {
      const waiter: Waiter = {
        since: started,
        resolve: (p) => resolve(this.#lend(p, started)),
        reject,
        timer: setTimeout(
          () => {
            withdraw(this.#waiters, waiter);
            reject(this.#timedOut(started, unanswered));
          },
          Math.max(0, until - performance.now()),
        ),
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * A session opened for this caller, or its timeout at `until`. An open still running then is not
   * abandoned: its session goes to the next caller waiting (or the idle list), its failure to the
   * next caller waiting, as a warm-up's would.
   */
  #openWithin(until: number, started: number): Promise<PooledSession> {
    const opening = this.#create();
    return new Promise<PooledSession>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(
        () => {
          late = true;
          reject(this.#timedOut(started, false));
        },
        Math.max(0, until - performance.now()),
      );
      opening.then(
        (p) => {
          clearTimeout(timer);
          if (late) this.#handOver(p);
          else resolve(p);
        },
        (err: BerthError | NoPermit) => {
          clearTimeout(timer);
          // No permit: the caller queues (the pool retries for the queue); a late one has queued.
          if (err instanceof NoPermit) {
            if (!late) reject(err);
          } else if (late) this.#failFirstWaiter(err);
          else {
            reject(err);
            this.#refill();
          }
        },
      );
    });
  }

  /** Why a caller got no session in time (see whyNoSession). */
  #timedOut(started: number, unanswered: boolean): BerthError {
    // Only a failure since this caller started waiting says why it got nothing.
    const last =
      this.#lastOpenFailure && this.#lastOpenFailure.at >= started ? this.#lastOpenFailure.error : undefined;
    const err = whyNoSession({
      stats: this.stats(),
      waitedMs: performance.now() - started,
      host: this.host,
      connectTimeoutMs: this.#connectTimeoutMs,
      lastOpenFailure: last,
      unanswered,
      budget: this.#permits?.refusedSince(started),
    });
    // For the metrics: pool_exhausted, or why the database gave no session (closed set of reasons).
    this.emit("acquireFailed", typeof err.details.reason === "string" ? err.details.reason : err.kind);
    return err;
  }

  #lend(pooled: PooledSession, started: number): PooledSession {
    this.#inUse.add(pooled);
    const waited = performance.now() - started;
    this.#acquireWaits.record(waited);
    this.emit("acquired", waited);
    return pooled;
  }

  /** A statement on one of this pool's sessions took `ms` (for the live latency figures). */
  recordQuery(ms: number): void {
    this.#queryTimes.record(ms);
  }

  readonly #acquireWaits = new RecentDurations();
  readonly #queryTimes = new RecentDurations();

  /**
   * A permit of the shared budget, when there is one: NoPermit when it is spent or cannot be asked.
   * The slot is held meanwhile (#permitting), and handed to #creating in the same turn.
   */
  async #create(): Promise<PooledSession> {
    let permit: Permit | undefined;
    if (this.#permits) {
      this.#permitting++;
      try {
        permit = await this.#permits.take();
      } finally {
        this.#permitting--;
      }
      if (this.#closed) {
        permit.release();
        throw poolClosed();
      }
    }
    this.#creating++;
    let opened = false;
    try {
      const session = await this.#opener.open(permit);
      opened = true;
      this.#lastOpenFailure = undefined;
      const pooled: PooledSession = {
        id: this.#nextId++,
        session,
        createdAt: performance.now(),
        lastReleasedAt: performance.now(),
        carriesState: false,
        generation: 0,
        permit,
      };
      this.#all.add(pooled);
      this.emit("created", pooled);
      if (this.#closed) {
        this.#drop(pooled, "pool_closed");
        throw poolClosed();
      }
      return pooled;
    } catch (err) {
      // Until the session exists the permit is this open's (a timed-out open gives it back once the
      // late session is gone, in HostOpener.open); then the session's, given back by #drop.
      if (!opened && !(err instanceof OpenTimedOut)) permit?.release();
      if (err instanceof BerthError) throw err;
      const failure = this.#opener.failure(err);
      this.#lastOpenFailure = { error: failure, at: performance.now() };
      this.emit("createFailed", failure);
      throw failure;
    } finally {
      this.#creating--;
    }
  }

  /**
   * An idle session at once, or undefined: no waiting, no validation ping (only a session released
   * moments ago qualifies, as it would skip the ping in acquire()). The front door's per-transaction
   * path, where an awaited acquire per transaction would cost more than the transaction.
   */
  takeIdleNow(): PooledSession | undefined {
    if (this.#closed) return undefined;
    const idle = this.#idle[this.#idle.length - 1];
    if (!idle?.session.healthy || spentReason(idle, this.settings.pool.maxLifetimeMs)) return undefined;
    if (performance.now() - idle.lastReleasedAt >= VALIDATE_AFTER_IDLE_MS) return undefined;
    this.#idle.pop();
    return this.#lend(idle, performance.now());
  }

  /**
   * When the pool is full (every session lent, none opening that could be added): queues `onSession`
   * for the next session released, with the pool's acquire timeout, and answers true. Otherwise
   * false, and the caller uses acquire(). A callback, not a promise: the front door's path under
   * load, where the promise machinery would cost more than the hand-over.
   */
  waitForRelease(onSession: (p: PooledSession) => void, onError: (err: BerthError) => void): boolean {
    if (this.#closed || this.#idle.length > 0) return false;
    if (this.#all.size + this.#creating < this.settings.pool.maxPoolSize) return false;
    const started = performance.now();
    const waiter: Waiter = {
      since: started,
      resolve: (p) => onSession(this.#lend(p, started)),
      reject: onError,
      timer: setTimeout(() => {
        withdraw(this.#waiters, waiter);
        onError(this.#timedOut(started, false));
      }, this.settings.pool.acquireTimeoutMs),
    };
    this.#waiters.push(waiter);
    return true;
  }

  /**
   * release(pooled, { reset: false }) without the promise: the front door's per-transaction path.
   * The caller vouches that nothing is left open on the session.
   */
  releaseKept(pooled: PooledSession): void {
    const { maxLifetimeMs } = this.settings.pool;
    if (!pooled.session.healthy || this.#closed || spentReason(pooled, maxLifetimeMs) || this.#aboveShare()) {
      void this.release(pooled, { reset: false });
      return;
    }
    if (!this.#inUse.delete(pooled)) return;
    pooled.lastReleasedAt = performance.now();
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(pooled);
    } else {
      this.#idle.push(pooled);
    }
  }

  /** Resets the session (rollback, discard state) and returns it; a session that fails to reset is destroyed. */
  async release(pooled: PooledSession, options: { reset: boolean }): Promise<void> {
    if (!this.#inUse.delete(pooled)) return;
    if (!pooled.session.healthy) return this.#dropAndRefill(pooled, "unhealthy");
    const spent =
      spentReason(pooled, this.settings.pool.maxLifetimeMs) ??
      (this.#aboveShare() ? "over_share" : undefined);
    if (spent) return this.#dropAndRefill(pooled, spent);
    if (this.#closed) return this.#dropAndRefill(pooled, "pool_closed");
    if (options.reset) {
      try {
        await pooled.session.reset();
      } catch {
        return this.#dropAndRefill(pooled, "reset_failed");
      }
      pooled.carriesState = false;
      pooled.generation++;
      // The pool may have closed during the reset: then the session must not go back to the idle list,
      // where close() would no longer find it and would wait out its whole grace period.
      if (this.#closed) return this.#dropAndRefill(pooled, "pool_closed");
    }
    pooled.lastReleasedAt = performance.now();
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(pooled);
    } else {
      this.#idle.push(pooled);
    }
  }

  /** Takes a session out of the pool for good (its socket failed, or its state is unknown). */
  async destroy(pooled: PooledSession): Promise<void> {
    if (!this.#inUse.delete(pooled)) return;
    this.#dropAndRefill(pooled, "caller");
  }

  #drop(pooled: PooledSession, reason: DestroyReason): void {
    if (!this.#all.delete(pooled)) return;
    this.emit("destroyed", pooled, reason);
    const closing = pooled.session.close().catch(() => pooled.session.destroy());
    const { permit } = pooled;
    // The permit goes back once the session is gone (within the connect timeout, else its socket is
    // cut): another instance must not open a session while this one still counts on the server.
    if (permit)
      void within(closing, this.#connectTimeoutMs, () => pooled.session.destroy()).finally(() =>
        permit.release(),
      );
    if (this.#drained && this.#all.size === 0) this.#drained();
  }

  /** Drops a session; a caller waiting for one gets a new session opened in its place. */
  #dropAndRefill(pooled: PooledSession, reason: DestroyReason): void {
    this.#drop(pooled, reason);
    this.#refill();
  }

  /**
   * A slot is free while callers wait (a session dropped, an open failed): open one for them. The
   * waiters keep their timers: the open serves whoever is first when it ends, within its bound; a
   * failure is told to the first, and the slot it frees is offered to the next in turn.
   */
  #refill(): void {
    if (this.#waiters.length === 0 || this.#closed) return;
    const max = this.settings.pool.maxPoolSize;
    if (this.#taken() >= this.#room()) {
      // Held back by the share, not by maxPoolSize: keep telling the others, and keep trying.
      if (this.#permits && this.#taken() < max) this.#permits.waiting();
      return;
    }
    this.#create().then(
      (p) => {
        this.#handOver(p);
        // With a shared budget callers queue while this pool has room: the next one's turn.
        if (this.#permits) this.#refill();
      },
      (err: BerthError | NoPermit) => {
        // No permit: PoolPermits tries again soon (or when one is freed); the callers keep waiting.
        if (!(err instanceof NoPermit)) this.#failFirstWaiter(err);
      },
    );
  }

  /** A newly opened session: to the first caller waiting, or to the idle list. */
  #handOver(p: PooledSession, idleAt: "newest" | "oldest" = "newest"): void {
    p.lastReleasedAt = performance.now();
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(p);
    } else if (idleAt === "newest") this.#idle.push(p);
    else this.#idle.unshift(p);
  }

  /** An open failed: the first caller waiting hears why at once instead of waiting out its timeout. */
  #failFirstWaiter(err: BerthError): void {
    const waiter = this.#waiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    waiter.reject(err);
    this.#refill();
  }

  /**
   * Closes idle sessions that are unhealthy, past their lifetime or without their permit (whatever
   * the pool's size: topUp replaces them), and those idle past idleTimeoutMs while above
   * minPoolSize; then tops up.
   */
  #evict(): void {
    const now = performance.now();
    const { idleTimeoutMs, minPoolSize } = this.settings.pool;
    for (let i = 0; i < this.#idle.length; ) {
      const p = this.#idle[i]!;
      const idleTooLong = now - p.lastReleasedAt > idleTimeoutMs && this.#all.size > minPoolSize;
      const reason: DestroyReason | undefined = !p.session.healthy
        ? "unhealthy"
        : (spentReason(p, this.settings.pool.maxLifetimeMs, now) ?? (idleTooLong ? "idle" : undefined));
      if (reason) {
        this.#idle.splice(i, 1);
        this.#drop(p, reason);
      } else {
        i++;
      }
    }
    this.#topUp();
  }

  #topUp(): void {
    if (this.#closed) return;
    const missing = Math.min(this.settings.pool.minPoolSize, this.#room()) - this.#taken();
    for (let i = 0; i < missing; i++) {
      // Callers may have queued while the pool was warming (the sessions being opened counted
      // against maxPoolSize): the first one waiting gets this session, or hears why none could be
      // opened, as one that opened its own would, instead of waiting out the acquire timeout.
      // Without a permit, minPoolSize waits for the next eviction round (other instances use the budget).
      this.#create().then(
        (p) => this.#handOver(p, "oldest"),
        (err: BerthError | NoPermit) => {
          if (!(err instanceof NoPermit)) this.#failFirstWaiter(err);
        },
      );
    }
  }

  stats(): PoolStatsSnapshot {
    const waits = this.#acquireWaits.snapshot();
    const queries = this.#queryTimes.snapshot();
    return {
      acquireWaitP95Ms: round(waits.p95),
      queryP95Ms: round(queries.p95),
      queriesLastMinute: queries.count,
      size: this.#all.size + this.#creating,
      idle: this.#idle.length,
      inUse: this.#inUse.size,
      opening: this.#creating,
      waiting: this.#waiters.length,
      maxSize: this.settings.pool.maxPoolSize,
      minSize: this.settings.pool.minPoolSize,
    };
  }

  /**
   * Health probe on a session of its own (not a pooled one, so a busy pool cannot make the server
   * look down): connect, ping (or `inspect`, which asks the host what it is), close. Returns the
   * latency; throws the driver's failure. It takes no permit of the shared budget, for the same
   * reason: the budget's one documented exception (one short session per instance and host at a time).
   */
  probe(timeoutMs: number, inspect?: (session: DriverSession) => Promise<void>): Promise<number> {
    return this.#opener.probe(timeoutMs, inspect);
  }

  /**
   * Stops handing out sessions; waits for borrowed ones to come back (up to graceMs), closes all.
   * `retired`: the connection changed and a successor pool takes over — callers still waiting are
   * told `pool_retired`, which PoolManager.acquire answers by queueing them on the successor.
   */
  async close(graceMs = 10_000, why: "closed" | "retired" = "closed"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#evictor);
    this.#permits?.close();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(waitEndedByClose(why));
    }
    for (const p of this.#idle.splice(0)) this.#drop(p, "pool_closed");
    if (this.#all.size > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      const timer = setTimeout(() => this.#drained?.(), graceMs);
      await drained;
      clearTimeout(timer);
      for (const p of [...this.#all]) this.#drop(p, "pool_closed");
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sessions lent out plus callers waiting: what reads are balanced by (least outstanding first). */
  get outstanding(): number {
    return this.#inUse.size + this.#waiters.length;
  }

  get driver(): Driver {
    return this.#driver;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
