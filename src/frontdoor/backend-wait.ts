import { ValidationError } from "../errors/berth-error.js";
import type { ConnectionPool } from "../pools/pool.js";
import type { PoolManager } from "../pools/pool-manager.js";
import type { PooledSession } from "../pools/pool-types.js";
import type { ClientIdentity } from "./client-identity.js";
import { READ_AFTER } from "./startup-options.js";
import { settingValue } from "./statement-kind.js";

/** What a client waiting for a backend is told, once: one came, or none will. */
export interface BackendWaiter {
  acquired(pool: ConnectionPool, pooled: PooledSession, started: number): void;
  failed(err: unknown): void;
}

/**
 * A client's wait for a backend, when none was idle at once. While its write pool is full it
 * waits for the next session released (a callback, no promise: most transactions under load take
 * this path); otherwise the pool manager finds one (a new session, a replica, the successor of a
 * retired pool).
 */
export class BackendWait {
  readonly #pools: PoolManager;
  readonly #identity: ClientIdentity;
  readonly #waiter: BackendWaiter;

  constructor(pools: PoolManager, identity: ClientIdentity, waiter: BackendWaiter) {
    this.#pools = pools;
    this.#identity = identity;
    this.#waiter = waiter;
  }

  /** `pool`: the write pool the client's last backend came from, if it still serves. */
  start(pool: ConnectionPool | undefined, started: number): void {
    const queued = pool?.waitForRelease(
      (p) => this.#waiter.acquired(pool, p, started),
      (err) => (isRetired(err) ? this.#throughManager(started) : this.#waiter.failed(err)),
    );
    if (!queued) this.#throughManager(started);
  }

  #throughManager(started: number): void {
    const identity = this.#identity;
    const consistencyToken = this.#readAfter();
    this.#pools.acquire(identity.connectionId, identity.intent, { acceptState: true, consistencyToken }).then(
      ({ pool, pooled }) => this.#waiter.acquired(pool, pooled, started),
      (err: unknown) => {
        // A token Berth did not give fails this statement, once, and is forgotten (else even the
        // RESET that would clear it could not get a backend).
        if (err instanceof ValidationError && consistencyToken) identity.settings.delete(READ_AFTER);
        this.#waiter.failed(err);
      },
    );
  }

  /**
   * A READ client's read-your-writes token: `SET berth.read_after = '<token>'` (or the startup
   * option `-c berth.read_after=<token>`). Each transaction then goes to a replica that has replayed
   * that far, or to the primary.
   */
  #readAfter(): string {
    if (this.#identity.intent !== "read") return "";
    const statement = this.#identity.settings.get(READ_AFTER);
    return statement ? (settingValue(statement) ?? "") : "";
  }
}

/** The pool was retired while the client waited (the connection changed): its successor serves it. */
function isRetired(err: unknown): boolean {
  const reason = (err as { details?: { reason?: unknown } })?.details?.reason;
  return reason === "pool_retired" || reason === "pool_closed";
}
