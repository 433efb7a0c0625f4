import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LoginRequestSchema } from "../../src/gen/berth/v1/auth_service_pb.js";
import type { Principal } from "../../src/identity/principal.js";
import { parseScramVerifier, verifySecretWithVerifier } from "../../src/identity/scram.js";
import { createVerifierWriter } from "../../src/identity/scram-verifiers.js";
import { createServiceTokens } from "../../src/identity/service-tokens.js";
import { createUserAdmin } from "../../src/identity/user-admin.js";
import { bootstrapAdmin, createLocalUser } from "../../src/identity/users.js";
import { createLogger } from "../../src/observability/logger.js";
import { createAuthService } from "../../src/services/auth-service.js";
import type { Store } from "../../src/store/store.js";
import { insertTestConnection } from "../support/store-rows.js";
import { dropTestStore, openTestStore } from "../support/test-store.js";
import { until } from "../support/waits.js";

/**
 * SCRAM verifiers in the store: made wherever the secret is at hand, replaced with the password,
 * made lazily for accounts from before the front door — and never for a secret that no longer holds.
 */
describe("SCRAM verifiers in the store", () => {
  let dir: string;
  let store: Store;
  let now: Date;
  const clock = () => now;
  let admin: Principal;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-scram-"));
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

  const userVerifier = async (username: string) =>
    (
      await store.db
        .selectFrom("users")
        .select("scram_verifier")
        .where("username", "=", username)
        .executeTakeFirst()
    )?.scram_verifier ?? null;
  const tokenVerifier = async (id: string) =>
    (
      await store.db
        .selectFrom("service_tokens")
        .select("scram_verifier")
        .where("id", "=", id)
        .executeTakeFirst()
    )?.scram_verifier ?? null;
  /** Whether the stored verifier (if any) opens with `secret`. */
  const opens = async (text: string | null, secret: string) => {
    const v = parseScramVerifier(text);
    return v !== undefined && (await verifySecretWithVerifier(v, secret));
  };

  const connection = () => insertTestConnection(store.db, admin.userId, now);

  it("are made with a new user, with the bootstrapped admin, and replaced with the password", async () => {
    const users = createUserAdmin({ db: store.db, clock });
    const alice = await users.create(admin, { username: "alice", password: "alice-password-1" });
    expect(await opens(await userVerifier("alice"), "alice-password-1")).toBe(true);
    // Nothing that replays as the password is stored.
    expect(JSON.stringify(await store.db.selectFrom("users").selectAll().execute())).not.toContain(
      "alice-password-1",
    );

    const before = await userVerifier("alice");
    await users.update(admin, alice.id, { role: "admin" });
    expect(await userVerifier("alice")).toBe(before);
    await users.update(admin, alice.id, { password: "alice-password-2" });
    const after = await userVerifier("alice");
    expect(await opens(after, "alice-password-2")).toBe(true);
    expect(await opens(after, "alice-password-1")).toBe(false);

    const emptyDir = await mkdtemp(join(tmpdir(), "berth-scram-boot-"));
    const empty = await openTestStore(emptyDir);
    try {
      await bootstrapAdmin(empty.db, "bootstrap-password-1", createLogger("silent"));
      const row = await empty.db.selectFrom("users").selectAll().executeTakeFirstOrThrow();
      expect(await opens(row.scram_verifier, "bootstrap-password-1")).toBe(true);
    } finally {
      await empty.close();
      await rm(emptyDir, { recursive: true, force: true });
      await dropTestStore(emptyDir);
    }
  });

  it("are made for a user from before the front door at the next HTTP sign-in, off the call's path", async () => {
    await createLocalUser(store.db, "legacy", "legacy-password-1", "member", now);
    await store.db
      .updateTable("users")
      .set({ scram_verifier: null })
      .where("username", "=", "legacy")
      .execute();
    const auth = createAuthService({ db: store.db, sessionTtlMs: 60_000, failureDelayMs: 0, clock });
    const ctx = { values: createContextValues() } as HandlerContext;

    await expect(
      auth.login(create(LoginRequestSchema, { username: "legacy", password: "wrong-password-1" }), ctx),
    ).rejects.toThrow(/Wrong username or password/);
    expect(await userVerifier("legacy")).toBeNull();

    await auth.login(create(LoginRequestSchema, { username: "legacy", password: "legacy-password-1" }), ctx);
    const made = await until("the lazy verifier is stored", () =>
      userVerifier("legacy").then((v) => v ?? false),
    );
    expect(await opens(made, "legacy-password-1")).toBe(true);
  });

  it("made lazily never overwrite a password changed meanwhile", async () => {
    const legacy = await createLocalUser(store.db, "legacy", "legacy-password-1", "member", now);
    await store.db.updateTable("users").set({ scram_verifier: null }).where("id", "=", legacy.id).execute();
    // The old password was verified (legacy still holds the old hash) ... then the password changes.
    const users = createUserAdmin({ db: store.db, clock });
    await users.update(admin, legacy.id, { password: "legacy-password-2" });
    await createVerifierWriter({ db: store.db, clock }).forUser(legacy, "legacy-password-1");
    const stored = await userVerifier("legacy");
    expect(await opens(stored, "legacy-password-2")).toBe(true);
    expect(await opens(stored, "legacy-password-1")).toBe(false);

    // Even when the new password's verifier is missing too, the old one is not written.
    await store.db.updateTable("users").set({ scram_verifier: null }).where("id", "=", legacy.id).execute();
    await createVerifierWriter({ db: store.db, clock }).forUser(legacy, "legacy-password-1");
    expect(await userVerifier("legacy")).toBeNull();
  });

  it("are made with a service token, and lazily for older tokens at their next use while active", async () => {
    const tokens = createServiceTokens({ db: store.db, clock });
    const connectionIds = [await connection()];
    const issued = await tokens.create(admin, {
      name: "orders-api",
      connectionIds,
      accessLevel: "user",
      ttlMs: 120_000,
    });
    expect(await opens(await tokenVerifier(issued.view.id), issued.token)).toBe(true);
    expect(JSON.stringify(await tokens.list(admin))).not.toContain("SCRAM");

    await store.db.updateTable("service_tokens").set({ scram_verifier: null }).execute();
    await tokens.authenticate(issued.token);
    const made = await until("the lazy verifier is stored", () =>
      tokenVerifier(issued.view.id).then((v) => v ?? false),
    );
    expect(await opens(made, issued.token)).toBe(true);
  });

  it("are not made for a revoked or expired token", async () => {
    const tokens = createServiceTokens({ db: store.db, clock });
    const connectionIds = [await connection()];
    const revoked = await tokens.create(admin, {
      name: "a",
      connectionIds,
      accessLevel: "user",
      ttlMs: 120_000,
    });
    const expired = await tokens.create(admin, {
      name: "b",
      connectionIds,
      accessLevel: "user",
      ttlMs: 60_000,
    });
    await store.db.updateTable("service_tokens").set({ scram_verifier: null }).execute();
    await tokens.revoke(admin, revoked.view.id);
    await expect(tokens.authenticate(revoked.token)).rejects.toThrow(/revoked/);
    now = new Date(now.getTime() + 60_001);
    await expect(tokens.authenticate(expired.token)).rejects.toThrow(/expired/);

    // The writer itself refuses too, for a token that ended between its check and the write.
    const writer = createVerifierWriter({ db: store.db, clock });
    await writer.forToken(revoked.view, revoked.token);
    await writer.forToken(expired.view, expired.token);
    expect(await tokenVerifier(revoked.view.id)).toBeNull();
    expect(await tokenVerifier(expired.view.id)).toBeNull();
  });

  it("that cannot be stored are reported without the secret, and the sign-in goes on", async () => {
    const lines: string[] = [];
    const log = createLogger(
      "info",
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const writer = createVerifierWriter({ db: store.db, clock, log });
    await store.close();
    await writer.forToken({ id: "x" }, "berth_t_secret-canary");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/could not store a SCRAM verifier/);
    expect(lines[0]).not.toContain("secret-canary");
    store = await openTestStore(dir);
  });
});
