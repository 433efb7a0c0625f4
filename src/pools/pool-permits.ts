import {
  type BudgetEvent,
  type BudgetKey,
  type Contenders,
  NoPermit,
  type Permit,
  type SessionBudget,
} from "./budget.js";

/** Between two tries for a permit while callers wait, at most (a random part spreads the instances). */
const RETRY_MIN_MS = 50;
const RETRY_SPREAD_MS = 100;
/** With more instances wanting than the remainder of an even split, who gets one more moves this often. */
const TURN_MS = 10_000;

/**
 * This instance's share of `max` sessions while other instances want sessions too: an even split,
 * the remainder to some of them by id, in turns (with more instances than sessions, none waits for
 * ever). Every instance computes it from what it has heard, with no round trip; views that differ for
 * a moment cost a session closed and opened, not the bound (the budget in Redis keeps that).
 */
export function fairShare(max: number, c: Contenders, nowMs: number): number {
  if (c.others.length === 0) return max;
  const ids = [c.self, ...c.others].sort();
  const n = ids.length;
  const extra = max % n;
  const rank = (ids.indexOf(c.self) + Math.floor(nowMs / TURN_MS)) % n;
  return Math.floor(max / n) + (rank < extra ? 1 : 0);
}

/**
 * One pool's side of the connection budget: takes a permit before the pool opens a session,
 * remembers the last refusal (so a caller who times out hears that the budget is shared, and its
 * numbers), and, while callers wait, tries again soon — at once when another instance announces a
 * permit returned, else every 50–150 ms, which also finds the permits of a dead instance once their
 * lease runs out (nothing announces those).
 *
 * Permits alone are not fair: a busy instance hands each released session to its own next caller
 * and would keep the whole budget for ever. So instances with callers waiting say so (want), and
 * while others want, a pool keeps no more than its fair share (room): above it, a released session
 * is closed instead of reused, which frees its permit for the others.
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

  /** The most sessions the pool should hold now: maxPoolSize, or its share while others want sessions. */
  room(): number {
    const max = this.#max();
    return Math.min(max, fairShare(max, this.#budget.contenders(this.#key), Date.now()));
  }

  /** Callers here wait for a session the budget does not give now: tell the others, try again soon. */
  waiting(): void {
    this.#budget.want(this.#key);
    this.#retrySoon();
  }

  /** A permit, or NoPermit (and a retry scheduled). */
  async take(): Promise<Permit> {
    let answer: Awaited<ReturnType<SessionBudget["take"]>>;
    try {
      answer = await this.#budget.take(this.#key, this.#max());
    } catch {
      // Redis down or silent: no new session (fail closed). Falling back to each instance's own
      // maxPoolSize would let N instances open N × maxPoolSize, which is what the budget is for;
      // failing closed costs only the pool's growth, as the sessions already open keep serving.
      throw this.#refused("unreachable");
    }
    if ("full" in answer) throw this.#refused(answer.full);
    return answer.permit;
  }

  #refused(why: NoPermit["why"]): NoPermit {
    this.#lastRefusal = { why, at: performance.now() };
    this.waiting();
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
