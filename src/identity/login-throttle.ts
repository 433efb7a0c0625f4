/**
 * Failed sign-ins per account in a sliding window, in memory. Past the limit the account is locked
 * until its oldest failure leaves the window — for the right password too, or guessing would simply
 * continue. (Shared across instances through Redis with the rate-limit work.)
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: { limit: number; windowMs: number; now?: () => number }) {
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds until the account may try again, or 0 when it may try now. */
  lockedForMs(account: string): number {
    const recent = this.#recent(account);
    if (recent.length < this.#limit) return 0;
    return recent[recent.length - this.#limit]! + this.#windowMs - this.#now();
  }

  recordFailure(account: string): void {
    const recent = this.#recent(account);
    recent.push(this.#now());
    this.#failures.set(account, recent);
    // Bounded memory: forget the oldest accounts when very many are being tried.
    if (this.#failures.size > 100_000) this.#failures.delete(this.#failures.keys().next().value!);
  }

  recordSuccess(account: string): void {
    this.#failures.delete(account);
  }

  get limit(): number {
    return this.#limit;
  }

  #recent(account: string): number[] {
    const since = this.#now() - this.#windowMs;
    return (this.#failures.get(account) ?? []).filter((t) => t > since);
  }
}
