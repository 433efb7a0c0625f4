import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KeyUnwrapError, KeyWrapper } from "../../src/crypto/key-wrap.js";
import { LocalKeyring } from "../../src/crypto/local-keyring.js";
import { StoredKeyring } from "../../src/crypto/stored-keyring.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore, type Store } from "../../src/store/store.js";
import { serviceAvailable } from "../support/services.js";
import { insertTestConnection } from "../support/store-rows.js";
import { createTestDatabase } from "../support/test-store.js";

/**
 * The keyring shared mode keeps in the store (key_versions, keyring_state), wrapped by
 * BERTH_MASTER_KEY, on both dialects: what one instance writes another reads, a rotation on one is
 * the next write's key on the other without a notification, set-up happens once, a wrong master key
 * stops the start, and no data key is ever in the store unwrapped.
 */
const hasPostgres = await serviceAvailable("postgres");
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const binding = { connectionId: "c1", field: "password" as const };

interface Opened {
  dataDir: string;
  /** Another handle on the same store, as a second instance would have. */
  another(): Promise<Store>;
  store: Store;
  /** Everything the store holds, as text or bytes. */
  contents(): Promise<Buffer>;
}

async function sqliteStore(): Promise<Opened> {
  const dataDir = await mkdtemp(join(tmpdir(), "berth-stored-keyring-"));
  const store = await openSqliteStore(dataDir);
  cleanups.push(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    store,
    // One SQLite directory takes one process; the same handle stands in for a second instance.
    another: async () => store,
    async contents() {
      const files = (await readdir(dataDir)).filter((f) => f.startsWith("berth.sqlite"));
      return Buffer.concat(await Promise.all(files.map((f) => readFile(join(dataDir, f)))));
    },
  };
}

async function postgresStore(): Promise<Opened> {
  const dataDir = await mkdtemp(join(tmpdir(), "berth-stored-keyring-"));
  const db = await createTestDatabase();
  const stores: Store[] = [];
  const open = async () => {
    const s = await openPostgresStore(db.url);
    stores.push(s);
    return s;
  };
  const store = await open();
  cleanups.push(async () => {
    for (const s of stores) await s.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    store,
    another: open,
    async contents() {
      const tables = ["key_versions", "keyring_state", "connections", "audit_events", "kysely_migration"];
      const rows: string[] = [];
      for (const t of tables) {
        const r = await store.db
          .selectFrom(t as "key_versions")
          .selectAll()
          .execute();
        rows.push(JSON.stringify(r));
      }
      return Buffer.from(rows.join("\n"));
    },
  };
}

const dialects = [
  ["sqlite", sqliteStore, true],
  ["postgres", postgresStore, hasPostgres],
] as const;

/** Every spelling of a key that could end up in a row or a file. */
function spellings(key: Buffer): string[] {
  return [key.toString("base64"), key.toString("base64url"), key.toString("hex"), key.toString("latin1")];
}

describe.each(dialects)("the keyring in the store (%s)", (_dialect, openStore, available) => {
  it.skipIf(!available)(
    "is read by every instance; a rotation on one is the next write's key on the other",
    async () => {
      const s = await openStore();
      const master = randomBytes(32);
      const a = await StoredKeyring.open(s.store.db, master, s.dataDir);
      const b = await StoredKeyring.open((await s.another()).db, master, s.dataDir);
      cleanups.push(async () => {
        a.stop();
        b.stop();
      });
      const v1 = await a.encrypt("canary-secret-1", binding);
      expect(v1).toMatch(/^berth:v1:/);
      expect(await b.decrypt(v1, binding)).toBe("canary-secret-1");

      const announced: number[] = [];
      b.onChange((v) => announced.push(v));
      expect(await b.rotate()).toBe(2);
      expect(announced).toEqual([2]);
      // No notification reached A: its next write still uses version 2, and it reads B's.
      const byA = await a.encrypt("canary-secret-2", binding);
      expect(byA).toMatch(/^berth:v2:/);
      expect(await b.decrypt(byA, binding)).toBe("canary-secret-2");
      expect((await a.status()).latestVersion).toBe(2);

      // A rotation A never heard of: B writes under v3, A reads it (a re-read on the unknown version).
      await b.rotate();
      const c = await StoredKeyring.open((await s.another()).db, master, s.dataDir);
      cleanups.push(async () => c.stop());
      expect(await c.decrypt(await b.encrypt("canary-secret-3", binding), binding)).toBe("canary-secret-3");

      // Retiring v1 on B holds on A once A re-reads (the bus tells it in Berth).
      await b.retire(2);
      await a.refresh();
      await expect(a.decrypt(v1, binding)).rejects.toMatchObject({
        details: { reason: "key_version_retired" },
      });
      // The audit MAC of an unseen version verifies after a re-read too.
      const mac = await b.mac(Buffer.from("event"));
      expect(await a.verifyMac(Buffer.from("event"), mac)).toBe(true);

      // Canary: no data key and not the master key, in any spelling, anywhere in the store.
      const wrapper = new KeyWrapper(master);
      const rows = await s.store.db.selectFrom("key_versions").selectAll().execute();
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
      const dataKeys = rows.map((r) => wrapper.unwrap(r.version, r.wrapped_key!));
      const stored = (await s.contents()).toString("latin1");
      for (const key of [master, ...dataKeys])
        for (const spelled of spellings(key)) expect(stored).not.toContain(spelled);
    },
  );

  it.skipIf(!available)("refuses another master key with a clear error, and a tampered row", async () => {
    const s = await openStore();
    const master = randomBytes(32);
    (await StoredKeyring.open(s.store.db, master, s.dataDir)).stop();
    const wrong = StoredKeyring.open(s.store.db, randomBytes(32), s.dataDir);
    await expect(wrong).rejects.toBeInstanceOf(KeyUnwrapError);
    await expect(wrong).rejects.toThrow(
      /BERTH_MASTER_KEY does not unwrap key version 1 of the keyring in the store/,
    );
    // A wrapped key moved onto another version does not unwrap either (bound to its version).
    const row = await s.store.db.selectFrom("key_versions").selectAll().executeTakeFirstOrThrow();
    await s.store.db
      .insertInto("key_versions")
      .values({ ...row, version: 2 })
      .execute();
    await expect(StoredKeyring.open(s.store.db, master, s.dataDir)).rejects.toThrow(/key version 2/);
  });

  it.skipIf(!available)(
    "adopts secrets written with the master key itself, and imports a keyring file",
    async () => {
      const s = await openStore();
      const master = randomBytes(32);
      // Shared mode before the keyring moved into the store: BERTH_MASTER_KEY was version 1 itself.
      const legacy = await new LocalKeyring(new Map([[1, master]]), 1).encrypt("legacy-secret", binding);
      await s.store.db
        .insertInto("audit_events")
        .values({
          seq: 1,
          at: new Date().toISOString(),
          actor_id: "system",
          actor_name: "system",
          source: "",
          transport: "",
          action: "test",
          target: "",
          outcome: "ok",
          reason: "",
          request_id: "",
          prev_hash: "",
          hash: "h",
          mac: legacy,
          key_version: 1,
        })
        .execute();
      const adopted = await StoredKeyring.open(s.store.db, master, s.dataDir);
      cleanups.push(async () => adopted.stop());
      expect(await adopted.decrypt(legacy, binding)).toBe("legacy-secret");
      // Rotating makes a new wrapped version; the master key itself is never stored.
      await adopted.rotate();
      const rows = await s.store.db.selectFrom("key_versions").selectAll().orderBy("version").execute();
      expect(rows[0]!.wrapped_key).toBeNull();
      expect(rows[1]!.wrapped_key).toMatch(/^wrap1:/);

      // A keyring file in the data directory is imported when the store has none yet.
      const other = await openStore();
      const fileKey = randomBytes(32);
      writeFileSync(
        join(other.dataDir, "keyring.json"),
        JSON.stringify({
          format: 1,
          primary: 3,
          keys: [{ version: 3, key: fileKey.toString("base64"), createdAt: "" }],
        }),
      );
      const fromFile = new LocalKeyring(new Map([[3, fileKey]]), 3);
      const imported = await StoredKeyring.open(other.store.db, master, other.dataDir);
      cleanups.push(async () => imported.stop());
      expect(await imported.decrypt(await fromFile.encrypt("file-secret", binding), binding)).toBe(
        "file-secret",
      );
      expect((await imported.status()).latestVersion).toBe(3);
    },
  );
});

describe.each(dialects)("replacing the master key (%s)", (_dialect, openStore, available) => {
  it.skipIf(!available)(
    "rewraps every version under the new key once; the data keys, and so every secret, stay the same",
    async () => {
      const s = await openStore();
      const oldMaster = randomBytes(32);
      const newMaster = randomBytes(32);
      const before = await StoredKeyring.open(s.store.db, oldMaster, s.dataDir);
      const v1 = await before.encrypt("canary-secret-1", binding);
      await before.rotate();
      const v2 = await before.encrypt("canary-secret-2", binding);
      before.stop();
      const wrappedBefore = await s.store.db
        .selectFrom("key_versions")
        .selectAll()
        .orderBy("version")
        .execute();

      // The new key alone does not open the store: nothing is changed by trying.
      await expect(StoredKeyring.open(s.store.db, newMaster, s.dataDir)).rejects.toBeInstanceOf(
        KeyUnwrapError,
      );
      expect(await s.store.db.selectFrom("key_versions").selectAll().orderBy("version").execute()).toEqual(
        wrappedBefore,
      );

      // Both keys: rewrapped, and everything written before reads the same.
      const after = await StoredKeyring.open(s.store.db, newMaster, s.dataDir, oldMaster);
      cleanups.push(async () => after.stop());
      expect(await after.decrypt(v1, binding)).toBe("canary-secret-1");
      expect(await after.decrypt(v2, binding)).toBe("canary-secret-2");
      const rows = await s.store.db.selectFrom("key_versions").selectAll().orderBy("version").execute();
      const oldWrap = new KeyWrapper(oldMaster);
      const newWrap = new KeyWrapper(newMaster);
      for (const [i, row] of rows.entries()) {
        expect(row.wrapped_key).not.toBe(wrappedBefore[i]!.wrapped_key);
        expect(newWrap.unwrap(row.version, row.wrapped_key!)).toEqual(
          oldWrap.unwrap(row.version, wrappedBefore[i]!.wrapped_key!),
        );
        expect(() => oldWrap.unwrap(row.version, row.wrapped_key!)).toThrow(KeyUnwrapError);
      }
      // The new key alone opens it now; the old one no longer does.
      (await StoredKeyring.open(s.store.db, newMaster, s.dataDir)).stop();
      await expect(StoredKeyring.open(s.store.db, oldMaster, s.dataDir)).rejects.toBeInstanceOf(
        KeyUnwrapError,
      );
      // Starting again with both keys (left in the configuration) changes nothing.
      (await StoredKeyring.open(s.store.db, newMaster, s.dataDir, oldMaster)).stop();
      expect(await s.store.db.selectFrom("key_versions").selectAll().orderBy("version").execute()).toEqual(
        rows,
      );
    },
  );

  it.skipIf(!available)(
    "a legacy version that is the master key itself is wrapped; a wrong previous key changes nothing",
    async () => {
      const s = await openStore();
      const oldMaster = randomBytes(32);
      const newMaster = randomBytes(32);
      // A store from before the stored keyring: version 1 is the master key (the row has no wrap).
      const legacy = await new LocalKeyring(new Map([[1, oldMaster]]), 1).encrypt("legacy-secret", {
        connectionId: "c-legacy",
        field: "username",
      });
      await s.store.db
        .insertInto("key_versions")
        .values({ version: 1, wrapped_key: null, created_at: new Date().toISOString() })
        .execute();
      await s.store.db
        .insertInto("keyring_state")
        .values({
          id: 1,
          primary_version: 1,
          min_decryption_version: 1,
          updated_at: new Date().toISOString(),
        })
        .execute();
      // Nothing sealed with version 1 yet: which key it is cannot be told, so nothing is adopted (a
      // wrong guess would replace the real data key).
      await expect(StoredKeyring.open(s.store.db, newMaster, s.dataDir, oldMaster)).rejects.toThrow(
        /key version 1 of the keyring in the store cannot be rewrapped: no secret sealed with it is left/,
      );
      await insertConnectionWithUsername(s.store, "c-legacy", legacy);

      // A previous key that is not the one the store was set up with: refused, nothing written.
      await expect(StoredKeyring.open(s.store.db, newMaster, s.dataDir, randomBytes(32))).rejects.toThrow(
        /cannot be rewrapped: neither BERTH_MASTER_KEY nor BERTH_MASTER_KEY_PREVIOUS unwraps it/,
      );
      expect(
        (await s.store.db.selectFrom("key_versions").selectAll().executeTakeFirstOrThrow()).wrapped_key,
      ).toBeNull();

      const after = await StoredKeyring.open(s.store.db, newMaster, s.dataDir, oldMaster);
      cleanups.push(async () => after.stop());
      expect(await after.decrypt(legacy, { connectionId: "c-legacy", field: "username" })).toBe(
        "legacy-secret",
      );
      const row = await s.store.db.selectFrom("key_versions").selectAll().executeTakeFirstOrThrow();
      expect(new KeyWrapper(newMaster).unwrap(1, row.wrapped_key!)).toEqual(oldMaster);
      // The old master key is no longer needed, nor accepted alone.
      await expect(StoredKeyring.open(s.store.db, oldMaster, s.dataDir)).rejects.toBeInstanceOf(
        KeyUnwrapError,
      );

      // A later version without a wrap is a tampered row, never a key to adopt.
      await s.store.db
        .insertInto("key_versions")
        .values({ version: 2, wrapped_key: null, created_at: new Date().toISOString() })
        .execute();
      await expect(StoredKeyring.open(s.store.db, randomBytes(32), s.dataDir, newMaster)).rejects.toThrow(
        /key version 2 .* cannot be rewrapped: it has no wrapped key/,
      );
    },
  );
});

describe.skipIf(!hasPostgres)("instances setting up the keyring together", () => {
  it("set it up once: what each writes, the others read", async () => {
    const s = await postgresStore();
    const master = randomBytes(32);
    const stores = await Promise.all([s.another(), s.another(), s.another()]);
    const rings = await Promise.all(stores.map((st) => StoredKeyring.open(st.db, master, s.dataDir)));
    cleanups.push(async () => {
      for (const r of rings) r.stop();
    });
    expect(await s.store.db.selectFrom("key_versions").selectAll().execute()).toHaveLength(1);
    for (const writer of rings) {
      const env = await writer.encrypt("together", binding);
      for (const reader of rings) expect(await reader.decrypt(env, binding)).toBe("together");
    }
  });
});

/** A connection row whose sealed user name is the legacy sample. */
async function insertConnectionWithUsername(store: Store, id: string, usernameEnc: string): Promise<void> {
  await insertTestConnection(store.db, "system", new Date(), id);
  await store.db.updateTable("connections").set({ username_enc: usernameEnc }).where("id", "=", id).execute();
}
