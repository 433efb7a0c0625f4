import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import genericPool from "generic-pool";
import type { ConnectionSettings, Credentials } from "../connections/settings.js";
import { tlsPlanFor } from "../connections/tls-plan.js";
import type { Driver, DriverSession } from "../drivers/driver.js";
import { BerthError, UnavailableError } from "../errors/berth-error.js";

/** A pooled session with what the pool needs to know about it. */
export interface PooledSession {
  readonly id: number;
  readonly session: DriverSession;
  readonly createdAt: number;
  lastReleasedAt: number;
}

export interface PoolStatsSnapshot {
  size: number;
  idle: number;
  inUse: number;
  waiting: number;
  maxSize: number;
  minSize: number;
}

/** Why a session left the pool, as a named table rather than scattered ifs (DESIGN §2 rule 7). */
export type DestroyReason =
  | "unhealthy"
  | "max_lifetime"
  | "idle"
  | "reset_failed"
  | "pool_closed"
  | "validation_failed"
  | "caller";

export interface PoolEvents {
  created: [PooledSession];
  destroyed: [PooledSession, DestroyReason];
  createFailed: [BerthError];
  acquired: [waitMs: number];
}

/** Sessions idle longer than this are pinged before they are handed out. */
const VALIDATE_AFTER_IDLE_MS = 5_000;

export interface ConnectionPoolOptions {
  connectionId: string;
  settings: ConnectionSettings;
  credentials: Credentials;
  driver: Driver;
  /** Bound for opening one database session. */
  connectTimeoutMs: number;
}

export class PoolExhaustedError extends BerthError {
  constructor(stats: PoolStatsSnapshot, waitedMs: number) {
    super(
      "pool_operation_failed",
      `Unable to get a session from the pool within ${Math.round(waitedMs)} ms: all ${stats.maxSize} are in use`,
      { reason: "pool_exhausted", current_size: stats.size, max_size: stats.maxSize, waiting: stats.waiting },
    );
  }
}

/**
 * One connection's pool: generic-pool underneath, sized and timed by the connection's settings.
 * Adds what generic-pool leaves out: a failed session create fails the waiting caller at once with
 * UNAVAILABLE (generic-pool would leave it waiting for the acquire timeout), max lifetime, counters,
 * and release that resets the session exactly once.
 */
export class ConnectionPool extends EventEmitter<PoolEvents> {
  readonly connectionId: string;
  readonly settings: ConnectionSettings;
  readonly #driver: Driver;
  readonly #pool: genericPool.Pool<PooledSession>;
  readonly #waiters = new Set<(err: BerthError) => void>();
  readonly #released = new WeakSet<PooledSession>();
  readonly #open: (connectTimeoutMs: number) => Promise<DriverSession>;
  #nextId = 1;
  #closed = false;

  constructor(options: ConnectionPoolOptions) {
    super();
    this.connectionId = options.connectionId;
    this.settings = options.settings;
    this.#driver = options.driver;
    const { settings, credentials, driver } = options;
    const plan = tlsPlanFor(settings, settings.server, credentials.clientKey);
    this.#open = (connectTimeoutMs) =>
      driver.connect({
        host: settings.server,
        port: settings.port,
        database: settings.database,
        credentials,
        tls: plan,
        connectTimeoutMs,
      });
    const factory: genericPool.Factory<PooledSession> = {
      create: async () => {
        try {
          const session = await this.#open(options.connectTimeoutMs);
          const pooled: PooledSession = {
            id: this.#nextId++,
            session,
            createdAt: performance.now(),
            lastReleasedAt: performance.now(),
          };
          this.emit("created", pooled);
          return pooled;
        } catch (err) {
          const f = driver.describeError(err);
          const failure = new UnavailableError(
            `Cannot open a session to ${settings.server}:${settings.port}: ${f.message}`,
            {
              reason: f.reason,
              error_code: f.code,
            },
          );
          this.emit("createFailed", failure);
          // generic-pool keeps the acquire waiting after a failed create; answer the oldest waiter now.
          const first = this.#waiters.values().next();
          if (!first.done) first.value(failure);
          throw failure;
        }
      },
      destroy: async (pooled) => {
        await pooled.session.close().catch(() => pooled.session.destroy());
      },
      validate: async (pooled) => {
        if (!pooled.session.healthy) return false;
        if (performance.now() - pooled.lastReleasedAt < VALIDATE_AFTER_IDLE_MS) return true;
        // Bounded: a ping into a black-holed network must not hold the caller forever.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.min(2_000, options.connectTimeoutMs));
        });
        const ok = await Promise.race([
          pooled.session.ping().then(
            () => true,
            () => false,
          ),
          timeout,
        ]);
        clearTimeout(timer);
        if (!ok) pooled.session.destroy();
        return ok;
      },
    };
    this.#pool = genericPool.createPool(factory, {
      max: settings.pool.maxPoolSize,
      min: settings.pool.minPoolSize,
      acquireTimeoutMillis: settings.pool.acquireTimeoutMs,
      idleTimeoutMillis: settings.pool.idleTimeoutMs,
      evictionRunIntervalMillis: Math.min(
        30_000,
        Math.max(1_000, Math.floor(settings.pool.idleTimeoutMs / 2)),
      ),
      testOnBorrow: true,
      // LIFO: the warmest sessions are reused and the coldest age out.
      fifo: false,
      autostart: true,
    });
    // Errors from min-size refills surface through createFailed; nothing should go unhandled.
    this.#pool.on("factoryCreateError", () => {});
    this.#pool.on("factoryDestroyError", () => {});
  }

  /** A session for exclusive use; release() or destroy() it exactly once. */
  async acquire(): Promise<PooledSession> {
    if (this.#closed)
      throw new UnavailableError("The connection's pool is closed", { reason: "pool_closed" });
    const started = performance.now();
    let abandoned = false;
    let rejectEarly!: (err: BerthError) => void;
    const early = new Promise<never>((_, reject) => {
      rejectEarly = reject;
    });
    this.#waiters.add(rejectEarly);
    const pending = this.#pool.acquire();
    // If this caller gave up (create failure) but generic-pool serves the request later, give it back.
    pending.then(
      (p) => {
        if (abandoned) void this.#pool.release(p);
      },
      () => {},
    );
    try {
      const pooled = await Promise.race([pending, early]);
      this.emit("acquired", performance.now() - started);
      return pooled;
    } catch (err) {
      abandoned = true;
      if (err instanceof BerthError) throw err;
      // generic-pool's TimeoutError: exhaustion if every session is busy, else opening one hangs.
      const stats = this.stats();
      if (stats.size >= stats.maxSize && stats.idle === 0)
        throw new PoolExhaustedError(stats, performance.now() - started);
      throw new UnavailableError(
        `Opening a session to ${this.settings.server}:${this.settings.port} timed out`,
        {
          reason: "timeout",
        },
      );
    } finally {
      this.#waiters.delete(rejectEarly);
    }
  }

  /** Resets the session (rollback, discard state) and returns it; a session that fails to reset is destroyed. */
  async release(pooled: PooledSession, options: { reset: boolean }): Promise<void> {
    if (this.#released.has(pooled)) return;
    this.#released.add(pooled);
    if (!pooled.session.healthy) return this.#destroy(pooled, "unhealthy");
    if (
      this.settings.pool.maxLifetimeMs > 0 &&
      performance.now() - pooled.createdAt > this.settings.pool.maxLifetimeMs
    ) {
      return this.#destroy(pooled, "max_lifetime");
    }
    if (this.#closed) return this.#destroy(pooled, "pool_closed");
    if (options.reset) {
      try {
        await pooled.session.reset();
      } catch {
        return this.#destroy(pooled, "reset_failed");
      }
    }
    pooled.lastReleasedAt = performance.now();
    // Handed out again later, the same object is released again: allow that.
    this.#released.delete(pooled);
    await this.#pool.release(pooled);
  }

  /** Takes a session out of the pool for good (its socket failed, or the caller cannot vouch for its state). */
  async destroy(pooled: PooledSession): Promise<void> {
    if (this.#released.has(pooled)) return;
    this.#released.add(pooled);
    await this.#destroy(pooled, "caller");
  }

  async #destroy(pooled: PooledSession, reason: DestroyReason): Promise<void> {
    this.emit("destroyed", pooled, reason);
    await this.#pool.destroy(pooled).catch(() => {});
  }

  stats(): PoolStatsSnapshot {
    return {
      size: this.#pool.size,
      idle: this.#pool.available,
      inUse: this.#pool.borrowed,
      waiting: this.#pool.pending,
      maxSize: this.#pool.max,
      minSize: this.#pool.min,
    };
  }

  /**
   * Health probe on a session of its own (not a pooled one, so a busy pool cannot make the server
   * look down): connect, ping, close. Returns the latency; throws the driver's failure.
   */
  async probe(timeoutMs: number): Promise<number> {
    const started = performance.now();
    let session: DriverSession | undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })),
        timeoutMs,
      );
    });
    const attempt = this.#open(timeoutMs).then(async (s) => {
      session = s;
      await s.ping();
    });
    try {
      await Promise.race([attempt, deadline]);
      return performance.now() - started;
    } finally {
      clearTimeout(timer);
      attempt.catch(() => {}).finally(() => session?.destroy());
    }
  }

  /** Stops handing out sessions; waits for borrowed ones to come back (up to graceMs), closes all. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const drained = this.#pool.drain();
    await Promise.race([drained, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await this.#pool.clear();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get driver(): Driver {
    return this.#driver;
  }
}
