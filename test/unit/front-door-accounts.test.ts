import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFrontDoorAccounts, type FrontDoorAccount } from "../../src/identity/front-door-accounts.js";
import type { Principal } from "../../src/identity/principal.js";
import { createPrincipalRecheck } from "../../src/identity/principal-recheck.js";
import { ScramError, ScramServerExchange } from "../../src/identity/scram.js";
import { createServiceTokens } from "../../src/identity/service-tokens.js";
import { hashToken } from "../../src/identity/sessions.js";
import { createUserAdmin } from "../../src/identity/user-admin.js";
import { createLocalUser } from "../../src/identity/users.js";
import type { Store } from "../../src/store/store.js";
import { insertTestConnection } from "../support/store-rows.js";
import { dropTestStore, openTestStore } from "../support/test-store.js";
import { until } from "../support/waits.js";

interface PgSaslSession {
  response: string;
}
const sasl = createRequire(import.meta.url)("pg/lib/crypto/sasl.js") as {
  startSession(mechanisms: string[]): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
};

/** A SCRAM sign-in as the front door will run it: node-postgres's client against the account's verifier. */
async function scram(account: FrontDoorAccount | undefined, name: string, secret: string): Promise<boolean> {
  const client = sasl.startSession(["SCRAM-SHA-256"]);
  const server = new ScramServerExchange(account?.verifier, name);
  await sasl.continueSession(client, secret, server.start(client.response));
  try {
    sasl.finalizeSession(client, server.finish(client.response));
    return true;
  } catch (err) {
    if (err instanceof ScramError && err.reason === "invalid_proof") return false;
    throw err;
  }
}

/** Who a name at the front door is, and for how long: users and service tokens, against a real store. */
describe("front-door accounts", () => {
  let dir: string;
  let store: Store;
  let now: Date;
  const clock = () => now;
  let admin: Principal;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-frontdoor-"));
    store = await openTestStore(dir);
    now = new Date("2026-11-30T00:00:00Z");
    const row = await createLocalUser(store.db, "root", "root-password-1", "admin", now);
    admin = {
      kind: "user",
      userId: row.id,
      username: row.username,
      role: "admin",
      googleEmail: null,
      sessionHash: "test",
      sessionExpiresAt: new Date(now.getTime() + 3_600_000),
    };
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await dropTestStore(dir);
  });

  const accounts = () => createFrontDoorAccounts({ db: store.db, clock });
  const users = () => createUserAdmin({ db: store.db, clock });
  const recheck = () => createPrincipalRecheck({ db: store.db, clock });

  /** SCRAM with the password, then the principal, as the front door does after authentication. */
  async function signIn(name: string, secret: string): Promise<Principal | undefined> {
    const account = await accounts().lookup(name);
    if (!(await scram(account, name, secret))) return undefined;
    return account?.principal();
  }

  describe("users", () => {
    it("sign in with SCRAM as themselves, for as long as the connection lasts", async () => {
      const alice = await users().create(admin, { username: "Alice", password: "alice-password-1" });
      const account = (await accounts().lookup("Alice"))!;
      expect(account).toMatchObject({ kind: "user", account: "alice" });
      expect(account.verifier?.iterations).toBe(4096);
      expect(await scram(account, "Alice", "alice-password-1")).toBe(true);
      expect(await scram(account, "Alice", "alice-password-2")).toBe(false);
      const p = (await account.principal())!;
      expect(p).toMatchObject({ kind: "user", userId: alice.id, username: "Alice", role: "member" });
      expect(p.sessionHash).toMatch(/^pgwire:[0-9a-f]{16}:[A-Za-z0-9_-]{22}$/);
      expect(p.sessionExpiresAt.getTime()).toBe(8.64e15);
      // Each sign-in is its own session.
      expect((await account.principal())!.sessionHash).not.toBe(p.sessionHash);
    });

    it("check a cleartext password against the verifier", async () => {
      await users().create(admin, { username: "alice", password: "alice-password-1" });
      const account = (await accounts().lookup("alice"))!;
      expect(await account.verifySecret("alice-password-1")).toBe(true);
      expect(await account.verifySecret("alice-password-2")).toBe(false);
      expect(await account.verifySecret("")).toBe(false);
      expect(await account.verifySecret("a".repeat(1025))).toBe(false);
    });

    it("from before the front door sign in in cleartext with scrypt, which makes their verifier", async () => {
      await users().create(admin, { username: "legacy", password: "legacy-password-1" });
      await store.db
        .updateTable("users")
        .set({ scram_verifier: null })
        .where("username", "=", "legacy")
        .execute();
      const account = (await accounts().lookup("legacy"))!;
      expect(account.verifier).toBeUndefined();
      // No verifier: SCRAM cannot succeed (the front door offers cleartext inside TLS or on loopback).
      expect(await scram(account, "legacy", "legacy-password-1")).toBe(false);
      expect(await account.verifySecret("legacy-password-2")).toBe(false);
      expect(await account.verifySecret("legacy-password-1")).toBe(true);
      const signedIn = (await account.principal())!;
      await until("the verifier is made", async () => (await accounts().lookup("legacy"))?.verifier);
      expect(await signIn("legacy", "legacy-password-1")).toBeDefined();
      // Making the verifier did not change the password: the cleartext session goes on.
      expect(await recheck()(signedIn)).toBeDefined();
    });

    it("who cannot sign in with a password are not accounts: unknown, other case, disabled, Google-only", async () => {
      const alice = await users().create(admin, { username: "alice", password: "alice-password-1" });
      await store.db
        .insertInto("users")
        .values({
          id: "google-user",
          username: "google:1234",
          password_hash: null,
          role: "member",
          google_sub: "1234",
          google_email: "g@example.com",
          created_at: now.toISOString(),
          disabled: 0,
          scram_verifier: null,
        })
        .execute();
      expect(await accounts().lookup("nobody")).toBeUndefined();
      expect(await accounts().lookup("ALICE")).toBeUndefined();
      expect(await accounts().lookup("google:1234")).toBeUndefined();
      expect(await accounts().lookup("")).toBeUndefined();
      expect(await accounts().lookup("a".repeat(129))).toBeUndefined();
      await users().update(admin, alice.id, { disabled: true });
      expect(await accounts().lookup("alice")).toBeUndefined();
      // An unknown name still runs the whole exchange, and fails at the proof.
      expect(await scram(undefined, "alice", "alice-password-1")).toBe(false);
    });

    it("get no principal when the password changed or the user was disabled during the sign-in", async () => {
      const alice = await users().create(admin, { username: "alice", password: "alice-password-1" });
      const account = (await accounts().lookup("alice"))!;
      expect(await scram(account, "alice", "alice-password-1")).toBe(true);
      await users().update(admin, alice.id, { password: "alice-password-2" });
      expect(await account.principal()).toBeUndefined();

      const again = (await accounts().lookup("alice"))!;
      expect(await scram(again, "alice", "alice-password-2")).toBe(true);
      await users().update(admin, alice.id, { disabled: true });
      expect(await again.principal()).toBeUndefined();
    });
  });

  describe("re-checking a user signed in at the front door", () => {
    it("keeps the session and reads the current role and name", async () => {
      const alice = await users().create(admin, { username: "alice", password: "alice-password-1" });
      const p = (await signIn("alice", "alice-password-1"))!;
      await users().update(admin, alice.id, { role: "admin" });
      expect(await recheck()(p)).toMatchObject({
        kind: "user",
        role: "admin",
        username: "alice",
        sessionHash: p.sessionHash,
      });
    });

    it("ends the session when the password changes, not the one signed in with the new password", async () => {
      const alice = await users().create(admin, { username: "alice", password: "alice-password-1" });
      const old = (await signIn("alice", "alice-password-1"))!;
      await users().update(admin, alice.id, { password: "alice-password-2" });
      expect(await recheck()(old)).toBeUndefined();
      expect(await signIn("alice", "alice-password-1")).toBeUndefined();
      const fresh = (await signIn("alice", "alice-password-2"))!;
      expect(await recheck()(fresh)).toBeDefined();
      // Setting the same password again is a change too (a new hash): sessions end, as on HTTP.
      await users().update(admin, alice.id, { password: "alice-password-2" });
      expect(await recheck()(fresh)).toBeUndefined();
    });

    it("ends the session when the user is disabled or deleted, or a tampered session hash is shown", async () => {
      const alice = await users().create(admin, { username: "alice", password: "alice-password-1" });
      const bob = await users().create(admin, { username: "bob", password: "bob-password-12" });
      const a = (await signIn("alice", "alice-password-1"))!;
      const b = (await signIn("bob", "bob-password-12"))!;
      expect(await recheck()({ ...a, sessionHash: "pgwire:0000000000000000:x" })).toBeUndefined();
      expect(await recheck()({ ...a, sessionHash: "pgwire:" })).toBeUndefined();
      await users().update(admin, alice.id, { disabled: true });
      expect(await recheck()(a)).toBeUndefined();
      await users().remove(admin, bob.id);
      expect(await recheck()(b)).toBeUndefined();
    });
  });

  describe("service tokens", () => {
    async function token(name: string, ttlMs = 120_000) {
      return createServiceTokens({ db: store.db, clock }).create(admin, {
        name,
        connectionIds: [connectionId],
        accessLevel: "user",
        ttlMs,
      });
    }
    let connectionId: string;
    beforeEach(async () => {
      connectionId = await insertTestConnection(store.db, admin.userId, now);
    });

    it("sign in by name with SCRAM as the newest active token, and its principal ends with the token", async () => {
      await token("orders-api");
      now = new Date(now.getTime() + 1_000);
      const newest = await token("orders-api");
      const account = (await accounts().lookup("orders-api"))!;
      expect(account).toMatchObject({ kind: "service", account: "orders-api" });
      expect(await scram(account, "orders-api", newest.token)).toBe(true);
      const p = (await account.principal())!;
      expect(p).toMatchObject({
        kind: "service",
        userId: `service:${newest.view.id}`,
        username: "orders-api",
        sessionHash: hashToken(newest.token),
        scope: { connectionIds: [connectionId], level: "user" },
      });
      expect(await recheck()(p)).toBeDefined();
      await createServiceTokens({ db: store.db, clock }).revoke(admin, newest.view.id);
      expect(await recheck()(p)).toBeUndefined();
      expect(await account.principal()).toBeUndefined();
    });

    it("check any active token of the name in cleartext, and stand for the one that was shown", async () => {
      const older = await token("orders-api");
      now = new Date(now.getTime() + 1_000);
      const newer = await token("orders-api");
      const other = await token("billing-api");
      const account = (await accounts().lookup("orders-api"))!;
      expect(await account.verifySecret(other.token)).toBe(false);
      expect(await account.verifySecret("berth_t_short")).toBe(false);
      expect(await account.verifySecret(older.token)).toBe(true);
      expect((await account.principal())?.userId).toBe(`service:${older.view.id}`);
      // SCRAM proves the newest only (one verifier per exchange).
      expect(await scram(account, "orders-api", older.token)).toBe(false);
      expect(await scram(account, "orders-api", newer.token)).toBe(true);
    });

    it("are no accounts once revoked or expired, and older ones get their verifier at a cleartext sign-in", async () => {
      const revoked = await token("revoked-api");
      await createServiceTokens({ db: store.db, clock }).revoke(admin, revoked.view.id);
      await token("short-api", 60_000);
      const legacy = await token("legacy-api");
      await store.db.updateTable("service_tokens").set({ scram_verifier: null }).execute();
      expect(await accounts().lookup("revoked-api")).toBeUndefined();

      const account = (await accounts().lookup("legacy-api"))!;
      expect(account.verifier).toBeUndefined();
      expect(await account.verifySecret(legacy.token)).toBe(true);
      await until("the verifier is made", async () => (await accounts().lookup("legacy-api"))?.verifier);
      expect(await signIn("legacy-api", legacy.token)).toBeDefined();

      now = new Date(now.getTime() + 60_001);
      expect(await accounts().lookup("short-api")).toBeUndefined();
    });

    it("give way to a user of the same name", async () => {
      await token("shared");
      await users().create(admin, { username: "shared", password: "shared-password-1" });
      expect((await accounts().lookup("shared"))?.kind).toBe("user");
    });
  });
});
