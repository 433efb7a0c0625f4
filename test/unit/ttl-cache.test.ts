import { describe, expect, it } from "vitest";
import { TtlCache } from "../../src/access/ttl-cache.js";

describe("TtlCache", () => {
  it("expires entries after the TTL and forgets a tag's entries at once", () => {
    let now = 1_000;
    const cache = new TtlCache<string>({ ttlMs: 100, now: () => now });
    cache.set("a", "1", ["user:u"]);
    cache.set("b", "2", ["connection:c"]);
    expect(cache.get("a")).toBe("1");
    cache.invalidateTag("user:u");
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")).toBe("2");
    now += 100;
    expect(cache.get("b")).toBeUndefined();
  });

  it("does not cache a value read while an invalidation arrived (a revoke between the store read and the write)", () => {
    const cache = new TtlCache<true>({ ttlMs: 5_000 });
    // The reader takes the generation, reads "allowed" from the store; the revoke lands meanwhile.
    const readAt = cache.generation;
    cache.invalidateTag("connection:c");
    cache.set("u|c", true, ["connection:c", "user:u"], readAt);
    expect(cache.get("u|c")).toBeUndefined();
    // A sign-out (one session's entry) counts the same.
    const again = cache.generation;
    cache.invalidate("session-hash");
    cache.set("u|c", true, ["connection:c"], again);
    expect(cache.get("u|c")).toBeUndefined();
    // With nothing invalidated meanwhile the value is cached.
    const quiet = cache.generation;
    cache.set("u|c", true, ["connection:c"], quiet);
    expect(cache.get("u|c")).toBe(true);
  });

  it("stays bounded: the oldest entry goes when full", () => {
    const cache = new TtlCache<number>({ ttlMs: 1_000, maxEntries: 2 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3);
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([undefined, 2, 3]);
    expect(cache.size).toBe(2);
  });
});
