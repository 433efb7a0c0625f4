import type { Duplex } from "node:stream";
import type { WireChannel, WireHandler } from "../drivers/driver.js";
import type { ConnectionPool } from "../pools/pool.js";
import type { PooledSession } from "../pools/pool-types.js";
import { BackendStatements } from "./prepared.js";

/**
 * What the front door knows of one pooled backend between its borrowers: the statements it has
 * prepared and the settings it carries. Kept per pooled session and thrown away when the session's
 * generation moves (a reset by the gRPC data plane, or a rollback after a client vanished).
 */
export interface BackendState {
  readonly generation: number;
  readonly statements: BackendStatements;
  /** Setting key → the statement that set it (what a client asked for, replayed as is). */
  readonly settings: Map<string, string>;
}

const states = new WeakMap<PooledSession, BackendState>();

export function backendState(pooled: PooledSession): BackendState {
  const known = states.get(pooled);
  if (known && known.generation === pooled.generation) return known;
  const fresh = { generation: pooled.generation, statements: new BackendStatements(), settings: new Map() };
  states.set(pooled, fresh);
  return fresh;
}

/** A backend borrowed by one client: its socket read by the client, its pool to go back to. */
export class AttachedBackend {
  readonly state: BackendState;
  readonly socket: Duplex;
  readonly #wire: WireChannel;
  #detached = false;
  /** Its settings are not known (a replay failed): it goes back reset, not as it is. */
  tainted = false;

  constructor(
    readonly pool: ConnectionPool,
    readonly pooled: PooledSession,
    handler: WireHandler,
  ) {
    const wire = pooled.session.wire?.();
    if (!wire) throw new Error("this session cannot be proxied");
    this.#wire = wire;
    this.state = backendState(pooled);
    this.socket = wire.socket;
    wire.take(handler);
  }

  /** What the server reported at sign-in. */
  get serverParameters(): ReadonlyMap<string, string> {
    return this.#wire.serverParameters;
  }

  /** Back to the pool as it is, for the next transaction (settings and statements kept). */
  release(): void {
    if (this.tainted) {
      this.releaseReset("I");
      return;
    }
    if (this.#detached) return;
    this.#detached = true;
    this.#wire.give("I");
    this.pooled.carriesState = this.state.settings.size > 0;
    this.pool.releaseKept(this.pooled);
  }

  /**
   * Back to the pool rolled back and reset (a pinned client left, or one left mid-transaction
   * with nothing in flight): no setting, temporary table or lock reaches the next borrower.
   */
  releaseReset(txStatus: string): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#wire.give(txStatus);
    void this.pool.release(this.pooled, { reset: true });
  }

  /** Out of the pool for good: the protocol state is unknown (a client left mid-answer) or the socket died. */
  destroy(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#wire.give("E");
    // A statement may still run on the server (its client left mid-answer): cancel it, or it runs
    // on, holding its locks, outside the pool's count.
    void this.pooled.session.cancel().catch(() => {});
    this.pooled.session.destroy();
    void this.pool.destroy(this.pooled);
  }
}
