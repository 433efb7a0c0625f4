import { type BudgetEvent, type BudgetKey, NoPermit, type Permit, type SessionBudget } from "./budget.js";

/** Between two tries for a permit while callers wait, at most (a random part spreads the instances). */
const RETRY_MIN_MS = 50;
const RETRY_SPREAD_MS = 100;

/**
 * One pool's side of the connection budget: takes a permit before the pool opens a session,
 * remembers the last refusal (so a caller who times out hears that the budget is shared, and its
 * numbers), and, while callers wait, tries again soon — at once when another instance announces a
 * permit returned, else every 50–150 ms, which also finds the permits of a dead instance once their
 * lease runs out (nothing announces those).
 */
export class PoolPermits {
  readonly #budget: SessionBudget;
  readonly #key: BudgetKey;
  readonly #max: () => number;
  readonly #retry: () => void;
  readonly #unwatch: () => void;
  #timer: NodeJS.Timeout | undefined;
  #lastRefusal: { why: NoPermit["why"]; at: number } | undefined;

  constructor(
    budget: SessionBudget,
    key: BudgetKey,
    max: () => number,
    /** A permit may be free now (retry timer, or "freed"); "lost": a session lost its permit. */
    on: (event: BudgetEvent | "retry") => void,
  ) {
    this.#budget = budget;
    this.#key = key;
    this.#max = max;
    this.#retry = () => on("retry");
    this.#unwatch = budget.watch(key, on);
  }

  /** A permit, or NoPermit (and a retry scheduled). */
  async take(): Promise<Permit> {
    let answer: Awaited<ReturnType<SessionBudget["take"]>>;
    try {
      answer = await this.#budget.take(this.#key, this.#max());
    } catch {
      throw this.#refused("unreachable");
    }
    if ("full" in answer) throw this.#refused(answer.full);
    return answer.permit;
  }

  #refused(why: NoPermit["why"]): NoPermit {
    this.#lastRefusal = { why, at: performance.now() };
    this.#retrySoon();
    return new NoPermit(why);
  }

  #retrySoon(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#retry();
      },
      RETRY_MIN_MS + Math.random() * RETRY_SPREAD_MS,
    );
    this.#timer.unref();
  }

  /** The last refusal if it came at or after `since` (a performance.now() time). */
  refusedSince(since: number): NoPermit["why"] | undefined {
    const last = this.#lastRefusal;
    return last && last.at >= since ? last.why : undefined;
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unwatch();
  }
}
