import type { BudgetEvent, BudgetKey, Permit, SessionBudget } from "../../src/pools/budget.js";

/** A permit of the in-memory budget, with what tests look at. */
export class MemoryPermit implements Permit {
  lost = false;
  released = false;
  constructor(
    readonly key: string,
    readonly giveBack: (p: MemoryPermit) => void,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.giveBack(this);
  }
}

/**
 * The connection budget in memory, for pool tests: several pools with the same connection and host
 * (as several instances would have) share it. Tests can make it unreachable, let a permit's lease run
 * out silently (a dead instance), or lose a permit.
 */
export class MemoryBudget implements SessionBudget {
  readonly held = new Map<string, Set<MemoryPermit>>();
  readonly #watchers = new Map<string, Set<(event: BudgetEvent) => void>>();
  /** take() rejects, as when Redis does not answer. */
  unreachable = false;
  takes = 0;
  /** Called when a permit comes back (before "freed" is told). */
  onRelease: ((p: MemoryPermit) => void) | undefined;

  static keyOf(key: BudgetKey): string {
    return `${key.connectionId}:${key.host}`;
  }

  async take(key: BudgetKey, max: number): ReturnType<SessionBudget["take"]> {
    this.takes++;
    if (this.unreachable) throw new Error("budget unreachable");
    const name = MemoryBudget.keyOf(key);
    const set = this.held.get(name) ?? new Set();
    this.held.set(name, set);
    if (set.size >= max) return { full: { held: set.size, max } };
    const permit = new MemoryPermit(name, (p) => {
      set.delete(p);
      this.onRelease?.(p);
      this.#tell(name, "freed");
    });
    set.add(permit);
    return { permit };
  }

  /** How many permits of `key` are held by everyone. */
  count(key: BudgetKey): number {
    return this.held.get(MemoryBudget.keyOf(key))?.size ?? 0;
  }

  /** A permit whose lease ran out (its instance died): gone, and nobody is told. */
  expire(permit: MemoryPermit): void {
    this.held.get(permit.key)?.delete(permit);
  }

  /** A permit that could not be renewed and whose place was taken: lost, and its holder is told. */
  lose(permit: MemoryPermit): void {
    permit.lost = true;
    this.held.get(permit.key)?.delete(permit);
    this.#tell(permit.key, "lost");
  }

  watch(key: BudgetKey, listener: (event: BudgetEvent) => void): () => void {
    const name = MemoryBudget.keyOf(key);
    const set = this.#watchers.get(name) ?? new Set();
    this.#watchers.set(name, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  #tell(name: string, event: BudgetEvent): void {
    for (const listener of this.#watchers.get(name) ?? []) listener(event);
  }

  async close(): Promise<void> {}
}
