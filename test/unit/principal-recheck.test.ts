import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPrincipalRecheck } from "../../src/identity/principal-recheck.js";
import { createServiceTokens } from "../../src/identity/service-tokens.js";
import { authenticateToken, issueSession, revokeSession } from "../../src/identity/sessions.js";
import { createUserAdmin } from "../../src/identity/user-admin.js";
import { createLocalUser } from "../../src/identity/users.js";
import type { Store } from "../../src/store/store.js";
import { dropTestStore, openTestStore } from "../support/test-store.js";

/** Re-resolving an open principal against the real store: each way access ends is seen. */
describe("principal re-check", () => {
  let dir: string;
  let store: Store;
  let now: Date;
  const clock = () => now;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-recheck-"));
    store = await openTestStore(dir);
    now = new Date("2026-11-30T00:00:00Z");
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await dropTestStore(dir);
  });

  async function signedIn(role: "admin" | "member" = "member") {
    const user = await createLocalUser(
      store.db,
      `u${Math.random().toString(36).slice(2, 8)}`,
      "x".repeat(12),
      role,
      now,
    );
    const { token } = await issueSession(store.db, user, 3_600_000, now);
    return { user, principal: await authenticateToken(store.db, token, now) };
  }

  it("keeps a live session and reads the user's current role", async () => {
    const admin = await signedIn("admin");
    const { user, principal } = await signedIn();
    const recheck = createPrincipalRecheck({
      db: store.db,
      clock,
    });
    expect((await recheck(principal))?.role).toBe("member");
    await createUserAdmin({ db: store.db, clock }).update(admin.principal, user.id, { role: "admin" });
    expect((await recheck(principal))?.role).toBe("admin");
  });

  it("ends at sign-out, when the user is disabled or deleted, and at expiry", async () => {
    const recheck = createPrincipalRecheck({
      db: store.db,
      clock,
    });
    const admin = await signedIn("admin");
    const users = createUserAdmin({ db: store.db, clock });

    const signedOut = await signedIn();
    await revokeSession(store.db, signedOut.principal.sessionHash, now);
    expect(await recheck(signedOut.principal)).toBeUndefined();

    const disabled = await signedIn();
    await users.update(admin.principal, disabled.user.id, { disabled: true });
    expect(await recheck(disabled.principal)).toBeUndefined();

    const deleted = await signedIn();
    await users.remove(admin.principal, deleted.user.id);
    expect(await recheck(deleted.principal)).toBeUndefined();

    const expiring = await signedIn();
    expect(await recheck(expiring.principal)).toBeDefined();
    now = new Date(now.getTime() + 3_600_001);
    expect(await recheck(expiring.principal)).toBeUndefined();
  });

  it("ends a service token's principal, bearer or certificate, when the token is revoked or expires", async () => {
    const admin = await signedIn("admin");
    const tokens = createServiceTokens({ db: store.db, clock });
    const recheck = createPrincipalRecheck({ db: store.db, clock });
    const connectionId = "00000000-0000-4000-8000-000000000001";
    await store.db
      .insertInto("connections")
      .values({
        id: connectionId,
        name: "orders",
        name_key: "orders",
        type: "postgresql",
        server: "127.0.0.1",
        port: 5432,
        database: "test",
        username_enc: "",
        password_enc: "",
        client_key_enc: null,
        ssl_mode: "prefer",
        ca_certificate: "",
        client_certificate: "",
        tls_server_name: "",
        engine_options: "{}",
        max_pool_size: 1,
        min_pool_size: 0,
        acquire_timeout_ms: 1_000,
        idle_timeout_ms: 1_000,
        max_lifetime_ms: 60_000,
        replicas: "[]",
        description: "",
        created_by_id: admin.user.id,
        created_by_google_email: null,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
        last_tested_at: null,
        last_used_at: null,
        status: "untested",
        version: 1,
      })
      .execute();
    const issued = await tokens.create(admin.principal, {
      name: "orders-api",
      connectionIds: [connectionId],
      accessLevel: "user",
      ttlMs: 120_000,
    });
    const bearer = await tokens.authenticate(issued.token);
    const certificate = await tokens.authenticateCertificate("orders-api");
    expect((await recheck(bearer))?.scope?.connectionIds).toEqual([connectionId]);
    expect(await recheck(certificate)).toBeDefined();

    now = new Date(now.getTime() + 120_001);
    expect(await recheck(bearer)).toBeUndefined();
    expect(await recheck(certificate)).toBeUndefined();

    now = new Date("2026-11-30T00:00:00Z");
    await tokens.revoke(admin.principal, issued.view.id);
    expect(await recheck(bearer)).toBeUndefined();
    expect(await recheck(certificate)).toBeUndefined();
  });
});
