import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { grantsPolicy } from "../../src/access/policy.js";
import { createConnectionRegistry } from "../../src/connections/registry.js";
import { LocalKeyring } from "../../src/crypto/local-keyring.js";
import type { Principal } from "../../src/identity/principal.js";
import { createLocalUser } from "../../src/identity/users.js";
import { openTestStore } from "../support/test-store.js";

const spec = (name: string) => ({
  name,
  type: "postgresql",
  server: "127.0.0.1",
  port: 5432,
  database: "d",
  username: "u",
  password: "atomic-canary-pw",
  sslMode: "disable",
});

describe("a bundle's connections are written in one transaction", () => {
  it("a write that fails part-way (a name taken meanwhile) leaves nothing behind: no connection, grant or check", async () => {
    const store = await openTestStore(await mkdtemp(join(tmpdir(), "berth-atomic-")));
    const db = store.db;
    try {
      const user = await createLocalUser(db, "ida", "ida-password-123", "member", new Date());
      const ida: Principal = {
        kind: "user",
        userId: user.id,
        username: "ida",
        role: "member",
        googleEmail: null,
        sessionHash: "",
        sessionExpiresAt: new Date(Date.now() + 60_000),
      };
      const registry = createConnectionRegistry({
        db,
        keys: new LocalKeyring(new Map([[1, Buffer.alloc(32, 7)]]), 1),
        policy: grantsPolicy(db),
        drivers: () => undefined,
        testTimeoutMs: 1000,
      });
      // Both pass the name check (neither exists yet); the second insert then breaks the unique name,
      // as a concurrent create of that name between the check and the write would.
      const items = ["first", "second", "Second"].map((name) => ({
        input: spec(name),
        known: undefined,
        grants: [{ googleEmail: "someone@example.com", level: "viewer" as const }],
      }));
      const err = await registry.createAll(ida, items).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ kind: "conflict", details: { reason: "name_taken" } });
      expect(await db.selectFrom("connections").select("id").execute()).toEqual([]);
      expect(await db.selectFrom("connection_access").select("id").execute()).toEqual([]);
      // And the same items without the clash are written whole, the creator owner of each.
      const created = await registry.createAll(ida, items.slice(0, 2));
      expect(created.map((c) => c.name)).toEqual(["first", "second"]);
      const grants = await db
        .selectFrom("connection_access")
        .select(["user_id", "google_email", "access_level"])
        .execute();
      expect(grants.filter((g) => g.access_level === "owner" && g.user_id === user.id)).toHaveLength(2);
      expect(grants.filter((g) => g.google_email === "someone@example.com")).toHaveLength(2);
    } finally {
      await store.close();
    }
  });
});
