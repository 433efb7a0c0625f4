import type { ConnectionSettings, Credentials } from "../connections/settings.js";
import type { Driver } from "../drivers/driver.js";
import { ENGINES, type EngineId } from "../engines/index.js";
import { BerthError, UnavailableError, UnimplementedError } from "../errors/berth-error.js";
import { ConnectionPool, type PooledSession, type PoolStatsSnapshot } from "./pool.js";

export interface PoolManagerDeps {
  /** Settings and decrypted credentials of a connection: called once per pool, not per statement. */
  load(connectionId: string): Promise<{ settings: ConnectionSettings; credentials: Credentials }>;
  drivers(engine: EngineId): Driver | undefined;
  connectTimeoutMs: number;
  /** Told about every new pool, to attach metrics and health checks. */
  onPool?(pool: ConnectionPool): void;
  /** Told when a pool is retired. */
  onRetire?(connectionId: string): void;
}

/**
 * One pool per connection, created on first use. A change to a connection retires its pool: new
 * acquisitions go to a fresh pool (new settings, new credentials) while sessions in use finish on
 * the old one, which then closes.
 */
export class PoolManager {
  readonly #deps: PoolManagerDeps;
  readonly #building = new Map<string, Promise<ConnectionPool>>();
  readonly #pools = new Map<string, ConnectionPool>();
  #closed = false;

  constructor(deps: PoolManagerDeps) {
    this.#deps = deps;
  }

  pool(connectionId: string): Promise<ConnectionPool> {
    if (this.#closed)
      return Promise.reject(new UnavailableError("Berth is shutting down", { reason: "shutting_down" }));
    const ready = this.#pools.get(connectionId);
    if (ready) return Promise.resolve(ready);
    let building = this.#building.get(connectionId);
    if (!building) {
      building = this.#build(connectionId).finally(() => this.#building.delete(connectionId));
      this.#building.set(connectionId, building);
    }
    return building;
  }

  async #build(connectionId: string): Promise<ConnectionPool> {
    const { settings, credentials } = await this.#deps.load(connectionId);
    const driver = this.#deps.drivers(settings.type);
    if (!driver) throw new UnimplementedError(`Pooling ${ENGINES[settings.type].label} connections`);
    const pool = new ConnectionPool({
      connectionId,
      settings,
      credentials,
      driver,
      connectTimeoutMs: this.#deps.connectTimeoutMs,
    });
    this.#pools.set(connectionId, pool);
    this.#deps.onPool?.(pool);
    return pool;
  }

  /**
   * A session from the connection's current pool. If the pool is retired while the caller waits
   * (its credentials or settings changed), the caller moves to the successor pool instead of
   * failing: a credential rotation must not cost a single call.
   */
  async acquire(connectionId: string): Promise<{ pool: ConnectionPool; pooled: PooledSession }> {
    for (let attempt = 1; ; attempt++) {
      const pool = await this.pool(connectionId);
      try {
        return { pool, pooled: await pool.acquire() };
      } catch (err) {
        const retired = err instanceof BerthError && err.details.reason === "pool_retired";
        if (!retired || attempt >= 3) throw err;
      }
    }
  }

  /** The open pool of a connection, if any (for statistics; never creates one). */
  peek(connectionId: string): ConnectionPool | undefined {
    return this.#pools.get(connectionId);
  }

  all(): ConnectionPool[] {
    return [...this.#pools.values()];
  }

  /** The connection changed or was deleted: stop using its pool; it closes once its sessions return. */
  retire(connectionId: string, graceMs = 30_000): Promise<void> {
    const pool = this.#pools.get(connectionId);
    this.#pools.delete(connectionId);
    this.#building.delete(connectionId);
    if (!pool) return Promise.resolve();
    this.#deps.onRetire?.(connectionId);
    return pool.close(graceMs, "retired");
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
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    this.#building.clear();
    await Promise.all(pools.map((pool) => pool.close(graceMs, "closed")));
  }
}

export type { PoolStatsSnapshot };
