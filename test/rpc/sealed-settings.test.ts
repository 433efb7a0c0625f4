import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantsPolicy } from "../../src/access/policy.js";
import { createConnectionRegistry } from "../../src/connections/registry.js";
import { createSettingsSeal } from "../../src/connections/sealed-settings.js";
import type { KeyProvider } from "../../src/crypto/key-provider.js";
import { KeySet } from "../../src/crypto/key-set.js";
import { LocalKeyring } from "../../src/crypto/local-keyring.js";
import { type RewrapProgress, rewrapSecrets, secretInventory } from "../../src/crypto/rewrap.js";
import { VaultTransit } from "../../src/crypto/vault-transit.js";
import { CheckResultSchema } from "../../src/gen/berth/v1/types_pb.js";
import type { Principal } from "../../src/identity/principal.js";
import { createLocalUser } from "../../src/identity/users.js";
import { connectionRepository } from "../../src/store/connection-repository.js";
import type { Store } from "../../src/store/store.js";
import { dropTestStore, openTestStore } from "../support/test-store.js";
import { startVaultDouble, type VaultDouble } from "../support/vault-transit-double.js";

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const v1 = new KeySet(new LocalKeyring(new Map([[1, K1]]), 1));
const v2 = new KeySet(
  new LocalKeyring(
    new Map([
      [1, K1],
      [2, K2],
    ]),
    2,
  ),
);
/** Version 1 retired: only what was rewrapped still opens. */
const v2Only = new KeySet(
  new LocalKeyring(
    new Map([
      [1, K1],
      [2, K2],
    ]),
    2,
    undefined,
    2,
  ),
);

const SPEC = {
  type: "postgresql",
  server: "db-sealed.example",
  port: 5432,
  database: "orders",
  username: "app",
  password: "pw",
  sslMode: "require",
  tlsServerName: "db-sni.example",
  replicas: [{ server: "db-ro.example", port: 5433 }],
  description: "the orders database",
};

let dir: string;
let store: Store;
let alice: Principal;
const registryWith = (keys: KeyProvider) =>
  createConnectionRegistry({
    db: store.db,
    keys,
    policy: grantsPolicy(store.db),
    // No drivers: updates that need a test are saved untested, nothing connects anywhere.
    drivers: () => undefined,
    testTimeoutMs: 1000,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-sealed-"));
  store = await openTestStore(dir);
  const user = await createLocalUser(store.db, "alice", "alice-password-1", "member", new Date());
  alice = {
    kind: "user",
    userId: user.id,
    username: "alice",
    role: "member",
    googleEmail: null,
    sessionHash: "",
    sessionExpiresAt: new Date(Date.now() + 3_600_000),
  };
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
  await dropTestStore(dir);
});

const settingsEncOf = async (id: string) =>
  (
    await store.db
      .selectFrom("connections")
      .select("settings_enc")
      .where("id", "=", id)
      .executeTakeFirstOrThrow()
  ).settings_enc;

describe("sealed settings are bound to their record", () => {
  let a: string;
  let b: string;
  beforeAll(async () => {
    const r = registryWith(v1);
    a = (await r.create(alice, { ...SPEC, name: "bound-a" })).id;
    b = (await r.create(alice, { ...SPEC, name: "bound-b", server: "other.example" })).id;
  });

  it("an envelope copied onto another row does not open there; the listing still answers", async () => {
    const r = registryWith(v1);
    await store.db
      .updateTable("connections")
      .set({ settings_enc: await settingsEncOf(a) })
      .where("id", "=", b)
      .execute();
    await expect(r.get(alice, b)).rejects.toMatchObject({
      kind: "security_violation",
      details: { reason: "credential_integrity_failed", field: "settings", connection_id: b },
    });
    expect(await r.get(alice, a)).toMatchObject({
      server: "db-sealed.example",
      tls_server_name: "db-sni.example",
    });
    const listed = await r.list(alice, { pageSize: 10 });
    const damaged = listed.connections.find((c) => c.id === b);
    expect(damaged).toMatchObject({ name: "bound-b", server: "", replicas: "[]" });
  });

  it("an update replaces unreadable settings only with the credentials, as a move would", async () => {
    const r = registryWith(v1);
    const version = (
      await store.db.selectFrom("connections").select("version").where("id", "=", b).executeTakeFirstOrThrow()
    ).version;
    const { username: _u, password: _p, ...noCredentials } = SPEC;
    await expect(
      r.update(alice, b, { ...noCredentials, name: "bound-b", server: "other.example" }, version),
    ).rejects.toMatchObject({ details: { reason: "credentials_required", changed: ["settings"] } });
    const healed = await r.update(alice, b, { ...SPEC, name: "bound-b", server: "other.example" }, version);
    expect(healed).toMatchObject({ server: "other.example", status: "untested" });
    expect(await r.get(alice, b)).toMatchObject({ server: "other.example" });
  });
});

describe("rewrap covers sealed settings and check results", () => {
  let id: string;
  beforeAll(async () => {
    id = (await registryWith(v1).create(alice, { ...SPEC, name: "rewrap-me" })).id;
    await connectionRepository(store.db).recordCheck({
      connectionId: id,
      kind: "test",
      ok: true,
      resultEnc: await createSettingsSeal(v1).sealCheck(
        id,
        create(CheckResultSchema, { ok: true, target: "db-sealed.example:5432" }),
      ),
      checkedAt: new Date().toISOString(),
      checkedById: alice.userId,
    });
  });

  it("moves every envelope to the newest version, after which the old one can be retired", async () => {
    // Retiring version 1 before the rewrap: the settings no longer open.
    await expect(registryWith(v2Only).get(alice, id)).rejects.toMatchObject({
      details: { reason: "key_version_retired", field: "settings" },
    });
    const before = await secretInventory(store.db, v2Only);
    const connections = Number(
      (
        await store.db
          .selectFrom("connections")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
    // Per connection: username, password, settings; plus the one check result.
    expect(before.total).toBe(connections * 3 + 1);
    expect(before.stale.map((s) => s.field)).toEqual(expect.arrayContaining(["settings", "check_result"]));

    let last: RewrapProgress | undefined;
    for await (const p of rewrapSecrets(store.db, v2, { batchSize: 2, maxSecrets: 0 })) last = p;
    expect(last).toMatchObject({ finished: true, failures: [], total: connections * 3 + 1 });
    expect(last!.rewrapped).toBe(connections * 3 + 1);

    const sealed = await store.db.selectFrom("connections").select("settings_enc").execute();
    expect(sealed.every((r) => r.settings_enc?.startsWith("berth:v2:"))).toBe(true);
    const checks = await store.db.selectFrom("connection_checks").select("result_enc").execute();
    expect(checks.map((c) => c.result_enc?.slice(0, 9))).toEqual(["berth:v2:"]);

    const after = await secretInventory(store.db, v2Only);
    expect(after).toMatchObject({ stale: [], total: connections * 3 + 1, current: connections * 3 + 1 });
    const r = registryWith(v2Only);
    expect(await r.get(alice, id)).toMatchObject({
      server: "db-sealed.example",
      description: "the orders database",
    });
    expect((await r.status(alice, id)).lastTest?.target).toBe("db-sealed.example:5432");
  });
});

describe("listing 100 connections", () => {
  let vault: VaultDouble;
  beforeAll(async () => {
    vault = await startVaultDouble();
    vault.createKey("listing");
  });
  afterAll(async () => vault?.close());

  /** Median time of a 100-row page: the SQL alone, and the registry's list (SQL + one decryption per row). */
  async function timeList(keys: KeyProvider, prefix: string) {
    const r = registryWith(keys);
    for (let i = 0; i < 100; i += 20)
      await Promise.all(
        Array.from({ length: 20 }, (_, j) => r.create(alice, { ...SPEC, name: `${prefix}-${i + j}` })),
      );
    const repo = connectionRepository(store.db);
    const median = async (f: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now();
        await f();
        times.push(performance.now() - t0);
      }
      return times.sort((x, y) => x - y)[7]!;
    };
    const sqlMs = await median(async () => {
      const rows = await repo.list({ limit: 101, visibleTo: { userId: alice.userId, googleEmail: null } });
      expect(rows).toHaveLength(100);
    });
    const listMs = await median(async () => {
      const page = await r.list(alice, { pageSize: 100 });
      expect(page.connections).toHaveLength(100);
    });
    return { sqlMs, listMs };
  }

  it("stays fast with the local keyring and with Vault transit", async () => {
    // Only this test's connections are visible to a fresh owner: a new user owns them.
    const owner = await createLocalUser(store.db, "lister", "lister-password-1", "member", new Date());
    alice = { ...alice, userId: owner.id, username: "lister" };
    const local = await timeList(v1, "local");
    const owner2 = await createLocalUser(store.db, "lister2", "lister-password-2", "member", new Date());
    alice = { ...alice, userId: owner2.id, username: "lister2" };
    const transit = new KeySet(
      new VaultTransit({
        address: vault.url,
        token: vault.token,
        mount: "transit",
        keyName: "listing",
        timeoutMs: 2000,
        retries: 0,
      }),
    );
    const viaVault = await timeList(transit, "vault");
    console.info(
      `list of 100 (median): the store's query ${local.sqlMs.toFixed(1)} ms; the whole list with the local keyring ${local.listMs.toFixed(1)} ms; with Vault transit (a local double) ${viaVault.listMs.toFixed(1)} ms`,
    );
    expect(local.listMs).toBeLessThan(250);
    expect(viaVault.listMs).toBeLessThan(2000);
  }, 60_000);
});
