/**
 * The connection budget as pools see it: one count of sessions per connection and host, shared by
 * every Berth instance, that never exceeds the connection's maxPoolSize. A pool takes a permit before
 * it opens a session and returns it once the session is closed; sessions already open cost nothing
 * more (no permit per acquire). The Redis implementation is src/limits/connection-budget.ts; without
 * Redis there is no budget and each pool's own maxPoolSize is the bound, as before.
 */

/** Whose budget: a connection's sessions on one host (the primary and each replica have their own). */
export interface BudgetKey {
  readonly connectionId: string;
  /** `server:port`. */
  readonly host: string;
}

/** The right to hold one session open. */
export interface Permit {
  /**
   * Set when the permit could not be renewed in time and the budget was full when it tried again
   * (the instance lost Redis for longer than the lease): its session must be closed when it is idle.
   */
  readonly lost: boolean;
  /** Gives the permit back (once; later calls do nothing). Never throws. */
  release(): void;
}

/** Every permit of the budget is held: by whom, in numbers (`held` counts every instance's). */
export interface BudgetFull {
  readonly held: number;
  readonly max: number;
}

export type BudgetEvent =
  /** Some instance gave a permit of this key back: a caller waiting may get one now. */
  | "freed"
  /** A permit of this instance was lost (see Permit.lost). */
  | "lost"
  /** Another instance has callers waiting for a permit of this key: sessions above our share should go. */
  | "wanted";

/** Who wants sessions of a key now: this instance, and the others that said so lately. */
export interface Contenders {
  readonly self: string;
  readonly others: readonly string[];
}

export interface SessionBudget {
  /**
   * A permit for one more session of `key`, or `{ full }` when `max` are held across instances.
   * Rejects when the budget cannot be reached (Redis down or not answering in time).
   */
  take(key: BudgetKey, max: number): Promise<{ permit: Permit } | { full: BudgetFull }>;
  /** Tells `listener` about `key`'s events; returns the way to stop. */
  watch(key: BudgetKey, listener: (event: BudgetEvent) => void): () => void;
  /**
   * Tells the other instances that callers here wait for a session of `key` (best effort, cheap:
   * called on every retry, sent at most every 100 ms).
   */
  want(key: BudgetKey): void;
  /** This instance's id and the other instances that wanted sessions of `key` lately (no round trip). */
  contenders(key: BudgetKey): Contenders;
  /** Gives back every permit still held and disconnects. */
  close(): Promise<void>;
}

/** Why a pool could not open a session now: not a failure of the database, and not the caller's yet. */
export class NoPermit extends Error {
  constructor(
    /** The numbers when the budget was full; "unreachable" when the budget did not answer. */
    readonly why: BudgetFull | "unreachable",
  ) {
    super(why === "unreachable" ? "connection budget unreachable" : "connection budget full");
  }
}
