import type { BudgetEvent, BudgetKey, Contenders, Permit, SessionBudget } from "../../src/pools/budget.js";

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

/** How long an instance counts as wanting after it said so (as in the Redis budget). */
const WANT_FRESH_MS = 500;

/**
 * The connection budget in memory, for pool tests: what Redis holds, shared by the views that
 * instance() hands out — one per Berth instance, each given to that instance's pool. Tests can make
 * it unreachable, let a permit's lease run out silently (a dead instance), or lose a permit.
 */
export class MemoryBudget {
  readonly held = new Map<string, Set<MemoryPermit>>();
  readonly #views: { id: string; watchers: Map<string, Set<(event: BudgetEvent) => void>> }[] = [];
  /** key → instance id → when it last said it wants (performance.now()). */
  readonly #wanted = new Map<string, Map<string, number>>();
  /** take() rejects, as when Redis does not answer. */
  unreachable = false;
  takes = 0;
  /** Called when a permit comes back (before "freed" is told). */
  onRelease: ((p: MemoryPermit) => void) | undefined;

  static keyOf(key: BudgetKey): string {
    return `${key.connectionId}:${key.host}`;
  }

  /** The budget as one instance sees it. */
  instance(id = `instance-${this.#views.length + 1}`): SessionBudget {
    const view = { id, watchers: new Map<string, Set<(event: BudgetEvent) => void>>() };
    this.#views.push(view);
    return {
      take: (key, max) => this.#take(key, max),
      watch: (key, listener) => {
        const name = MemoryBudget.keyOf(key);
        const set = view.watchers.get(name) ?? new Set();
        view.watchers.set(name, set);
        set.add(listener);
        return () => set.delete(listener);
      },
      want: (key) => {
        const name = MemoryBudget.keyOf(key);
        const wanting = this.#wanted.get(name) ?? new Map<string, number>();
        this.#wanted.set(name, wanting);
        wanting.set(id, performance.now());
        this.#tell(name, "wanted", id);
      },
      contenders: (key): Contenders => {
        const wanting = this.#wanted.get(MemoryBudget.keyOf(key)) ?? new Map<string, number>();
        const now = performance.now();
        const others = [...wanting].filter(([who, at]) => who !== id && now - at <= WANT_FRESH_MS);
        return { self: id, others: others.map(([who]) => who) };
      },
      close: async () => {},
    };
  }

  async #take(key: BudgetKey, max: number): ReturnType<SessionBudget["take"]> {
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

  /** To every instance's listeners of `name` (but `except`'s: an instance does not hear itself want). */
  #tell(name: string, event: BudgetEvent, except?: string): void {
    for (const view of this.#views) {
      if (view.id === except) continue;
      for (const listener of view.watchers.get(name) ?? []) listener(event);
    }
  }
}
