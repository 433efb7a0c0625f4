/**
 * Durations seen over the last window (a minute by default), for the console's live chart: how
 * many, and the 95th percentile. Bounded: at most `cap` samples are kept, the oldest dropped first.
 */
export class RecentDurations {
  readonly #windowMs: number;
  readonly #cap: number;
  readonly #at: number[] = [];
  readonly #ms: number[] = [];

  constructor(windowMs = 60_000, cap = 10_000) {
    this.#windowMs = windowMs;
    this.#cap = cap;
  }

  record(ms: number, now = performance.now()): void {
    this.#at.push(now);
    this.#ms.push(ms);
    if (this.#at.length > this.#cap) {
      this.#at.shift();
      this.#ms.shift();
    }
  }

  snapshot(now = performance.now()): { count: number; p95: number } {
    let drop = 0;
    while (drop < this.#at.length && this.#at[drop]! < now - this.#windowMs) drop++;
    this.#at.splice(0, drop);
    this.#ms.splice(0, drop);
    if (this.#ms.length === 0) return { count: 0, p95: 0 };
    const sorted = [...this.#ms].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!,
    };
  }
}
