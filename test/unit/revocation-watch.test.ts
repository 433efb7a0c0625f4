import { describe, expect, it } from "vitest";
import type { AccessLevel } from "../../src/access/levels.js";
import {
  createRevocationWatch,
  invalidationOf,
  type OpenAccess,
  type RevocationReason,
} from "../../src/access/revocation-watch.js";
import type { Principal } from "../../src/identity/principal.js";

function principal(userId: string, sessionHash: string, expiresAt = new Date("2030-01-01")): Principal {
  return {
    kind: "user",
    userId,
    username: userId,
    role: "member",
    googleEmail: null,
    sessionHash,
    sessionExpiresAt: expiresAt,
  };
}

function open(p: Principal, connectionId: string) {
  const ended: RevocationReason[] = [];
  const access: OpenAccess & { ended: RevocationReason[] } = {
    principal: p,
    connectionId,
    ended,
    end: async (reason) => {
      ended.push(reason);
    },
  };
  return access;
}

/** The decision logic; the real store, sessions and Session streams are exercised in test/integration/revocation.test.ts. */
describe("revocation watch", () => {
  const alice = principal("alice", "h-alice");
  const bob = principal("bob", "h-bob");

  function watch(
    all: OpenAccess[],
    levels: Record<string, AccessLevel | undefined>,
    gone = new Set<string>(),
  ) {
    return createRevocationWatch({
      open: () => all,
      recheck: async (p) => (gone.has(p.sessionHash) ? undefined : p),
      policy: { levelOf: async (p, c) => levels[`${p.userId}|${c}`] },
      now: () => new Date("2026-11-30T00:00:00Z"),
    });
  }

  it("a grant change re-checks only that connection's open access and ends what fell below user", async () => {
    const a1 = open(alice, "c1");
    const b1 = open(bob, "c1");
    const a2 = open(alice, "c2");
    const w = watch([a1, b1, a2], { "alice|c1": "viewer", "bob|c1": "user", "alice|c2": undefined });
    await w.changed(invalidationOf("tag|connection:c1")!);
    expect(a1.ended).toEqual(["access_revoked"]);
    expect(b1.ended).toEqual([]);
    expect(a2.ended).toEqual([]);
  });

  it("a sign-out ends that session's access only; a user change re-checks all of the user's", async () => {
    const a1 = open(alice, "c1");
    const otherAlice = open(principal("alice", "h-alice-2"), "c1");
    const levels = { "alice|c1": "user" as const };
    await watch([a1, otherAlice], levels, new Set(["h-alice"])).changed(invalidationOf("session|h-alice")!);
    expect(a1.ended).toEqual(["signed_out"]);
    expect(otherAlice.ended).toEqual([]);

    const b1 = open(bob, "c1");
    await watch([b1], {}, new Set(["h-bob"])).changed(invalidationOf("tag|user:bob")!);
    expect(b1.ended).toEqual(["signed_out"]);
  });

  it("fails closed when the re-check cannot be made", async () => {
    const a1 = open(alice, "c1");
    const errors: unknown[] = [];
    await createRevocationWatch({
      open: () => [a1],
      recheck: async () => {
        throw new Error("store down");
      },
      policy: { levelOf: async () => "owner" },
      onError: (e) => errors.push(e),
    }).changed({ kind: "tag", tag: "connection:c1" });
    expect(a1.ended).toEqual(["access_revoked"]);
    expect(errors).toHaveLength(1);
  });

  it("the periodic re-check of everything skips what it cannot check instead of ending it", async () => {
    const a1 = open(alice, "c1");
    const b1 = open(bob, "c1");
    let storeDown = true;
    const w = createRevocationWatch({
      open: () => [a1, b1],
      recheck: async (p) => {
        if (storeDown) throw new Error("store down");
        return p.userId === "bob" ? undefined : p;
      },
      policy: { levelOf: async () => "user" },
    });
    await w.recheckAll();
    expect([a1.ended, b1.ended]).toEqual([[], []]);
    storeDown = false;
    await w.recheckAll();
    expect([a1.ended, b1.ended]).toEqual([[], ["signed_out"]]);
  });

  it("access opened while a change concerning it was made is re-checked as it opens", async () => {
    const late = open(alice, "c1");
    const unrelated = open(bob, "c2");
    const w = watch([], { "alice|c1": "viewer", "bob|c2": "viewer" });
    await w.changed(invalidationOf("tag|connection:c1")!);
    await w.opened(late);
    await w.opened(unrelated);
    expect(late.ended).toEqual(["access_revoked"]);
    expect(unrelated.ended).toEqual([]);
  });

  it("sweep ends access whose session expired", async () => {
    const expired = open(principal("carol", "h-c", new Date("2026-11-29")), "c1");
    const live = open(alice, "c1");
    await watch([expired, live], {}).sweep();
    expect(expired.ended).toEqual(["expired"]);
    expect(live.ended).toEqual([]);
  });

  it("ignores messages that revoke nothing", () => {
    expect(invalidationOf("tag|")).toBeUndefined();
    expect(invalidationOf("connection|")).toBeUndefined();
  });

  it("re-checks what is open on a connection that changed: a deleted one ends it", async () => {
    const onDeleted = open(alice, "c1");
    const elsewhere = open(alice, "c2");
    await watch([onDeleted, elsewhere], { c2: "user" }).changed(invalidationOf("connection|c1")!);
    expect(onDeleted.ended).toEqual(["access_revoked"]);
    expect(elsewhere.ended).toEqual([]);
  });
});
