/**
 * A small map whose entries expire, with secondary tags for invalidation ("everything about
 * connection X"). Keeps the per-statement path off the store.
 *
 * A value read from the store while an invalidation arrived is not cached: the reader takes
 * `generation` before its read and passes it to `set`, which drops the value if anything was
 * invalidated meanwhile (else a revoke landing between the read and the write would be undone
 * for a whole TTL by the stale "allowed" written after it).
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number; tags: readonly string[] }>();
  readonly #byTag = new Map<string, Set<string>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  #generation = 0;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.#now()) {
      this.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Moves on every invalidation; see `set`. */
  get generation(): number {
    return this.#generation;
  }

  /** Caches a value, unless an invalidation came after `readAt` (the generation before the value was read). */
  set(key: string, value: V, tags: readonly string[] = [], readAt?: number): void {
    if (readAt !== undefined && readAt !== this.#generation) return;
    if (this.#entries.size >= this.#maxEntries) {
      // Crude but bounded: drop the oldest insertion.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    this.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlMs, tags });
    for (const t of tags) {
      const keys = this.#byTag.get(t) ?? new Set<string>();
      this.#byTag.set(t, keys);
      keys.add(key);
    }
  }

  delete(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    for (const t of e.tags) this.#byTag.get(t)?.delete(key);
  }

  /** Forgets one entry because what it says changed (not merely expired). */
  invalidate(key: string): void {
    this.#generation++;
    this.delete(key);
  }

  invalidateTag(tag: string): void {
    this.#generation++;
    for (const key of this.#byTag.get(tag) ?? []) this.#entries.delete(key);
    this.#byTag.delete(tag);
  }

  get size(): number {
    return this.#entries.size;
  }
}
