import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ValidationError } from "../errors/berth-error.js";
import type { Db } from "../store/store.js";
import type { KeyProvider, KeyStatus, SecretBinding } from "./key-provider.js";
import { KeyWrapper } from "./key-wrap.js";
import { KEYRING_FILE, type KeyringFile, LocalKeyring } from "./local-keyring.js";
import { rewrapUnderNewMaster } from "./master-key-rotation.js";

const KEY_BYTES = 32;
/** Without a notification (no Redis, or one lost), a retirement elsewhere is seen within this. */
const REREAD_MS = 30_000;

interface SeedKey {
  version: number;
  /** Undefined: the version whose data key is the master key itself. */
  key: Buffer | undefined;
  createdAt: string;
}

interface Seed {
  keys: SeedKey[];
  primary: number;
  minDecryptionVersion: number;
  from: "new" | "keyring file" | "master key";
}

/**
 * The local key provider in shared mode: the keyring lives in the store (key_versions,
 * keyring_state), each data key wrapped by BERTH_MASTER_KEY, so that every instance decrypts what
 * another wrote. A rotation or retirement on one instance is announced (`onChange`, carried by the
 * cache bus) and the others re-read the store; an envelope naming a version this instance has not
 * seen, and every encryption that finds a newer primary in the store, re-read it too, so a lost
 * announcement never makes an instance write under an old key or fail to read a new one.
 */
export class StoredKeyring implements KeyProvider {
  readonly name = "local";
  readonly #db: Db;
  readonly #wrapper: KeyWrapper;
  readonly #masterKey: Buffer;
  #ring: LocalKeyring;
  #reading: Promise<void> | undefined;
  #nextRead: Promise<void> | undefined;
  readonly #listeners: ((version: number) => void)[] = [];
  readonly #timer: NodeJS.Timeout;

  private constructor(db: Db, masterKey: Buffer, ring: LocalKeyring) {
    this.#db = db;
    this.#masterKey = masterKey;
    this.#wrapper = new KeyWrapper(masterKey);
    this.#ring = ring;
    this.#timer = setInterval(() => void this.refresh().catch(() => {}), REREAD_MS);
    this.#timer.unref();
  }

  /**
   * Opens the store's keyring, setting it up on first use: from `<dataDir>/keyring.json` when one is
   * there (a deployment moving into shared mode), else version 1 = the master key itself when the
   * store already holds secrets written with it (shared mode before the keyring moved into the
   * store), else a new random key. Instances starting together set it up once. With the master key
   * being replaced (`previousMasterKey`), what only it opens is rewrapped first (master-key-rotation.ts).
   */
  static async open(
    db: Db,
    masterKey: Buffer,
    dataDir: string,
    previousMasterKey?: Buffer,
  ): Promise<StoredKeyring> {
    const wrapper = new KeyWrapper(masterKey);
    if (!(await readState(db))) await seedOnce(db, wrapper, await seedFor(db, dataDir));
    else if (previousMasterKey) await rewrapUnderNewMaster(db, masterKey, previousMasterKey);
    return new StoredKeyring(db, masterKey, await readRing(db, wrapper, masterKey));
  }

  /** Told (with the new primary) after this instance rotated or retired. */
  onChange(listener: (version: number) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Re-reads the keyring from the store. One read at a time; a caller arriving while one is in
   * flight gets the next read, which starts after it — the one in flight may have begun before the
   * change the caller saw (a rotation or retirement committed since), and joining it would leave the
   * old ring in place: encrypting under a version another instance just retired. Callers arriving
   * meanwhile share that next read.
   */
  refresh(): Promise<void> {
    if (!this.#reading) {
      this.#reading = readRing(this.#db, this.#wrapper, this.#masterKey)
        .then((ring) => {
          this.#ring = ring;
        })
        .finally(() => {
          this.#reading = undefined;
        });
      return this.#reading;
    }
    this.#nextRead ??= this.#reading
      .catch(() => undefined)
      .then(() => {
        this.#nextRead = undefined;
        return this.refresh();
      });
    return this.#nextRead;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Under the primary the store names now: a rotation elsewhere is used by the very next write. */
  async encrypt(plaintext: string, binding: SecretBinding): Promise<string> {
    await this.#upToDate();
    return this.#ring.encrypt(plaintext, binding);
  }

  async decrypt(envelope: string, binding: SecretBinding): Promise<string> {
    await this.#knows(this.#ring.versionOf(envelope));
    return this.#ring.decrypt(envelope, binding);
  }

  owns(envelope: string): boolean {
    return this.#ring.owns(envelope);
  }

  versionOf(envelope: string): number | undefined {
    return this.#ring.versionOf(envelope);
  }

  async rewrap(envelope: string, binding: SecretBinding): Promise<string> {
    return this.encrypt(await this.decrypt(envelope, binding), binding);
  }

  /**
   * From memory (it is /readyz's key check, which must not wait on the store): callers that need
   * the store's newest version now (rewrap, the key inventory) refresh first.
   */
  async status(): Promise<KeyStatus> {
    return {
      provider: this.name,
      keyName: "store (wrapped by BERTH_MASTER_KEY)",
      latestVersion: this.#ring.primaryVersion,
      minDecryptionVersion: this.#ring.minDecryptionVersion,
      rotatable: true,
    };
  }

  /** One new version, whichever instance asks: the state row is locked for the transaction. */
  async rotate(): Promise<number> {
    const key = randomBytes(KEY_BYTES);
    const now = new Date().toISOString();
    const version = await this.#db.transaction().execute(async (trx) => {
      // The update takes the row's lock on PostgreSQL (SQLite serializes writers anyway).
      await trx.updateTable("keyring_state").set({ updated_at: now }).where("id", "=", 1).execute();
      const top = await trx
        .selectFrom("key_versions")
        .select((eb) => eb.fn.max<number>("version").as("top"))
        .executeTakeFirstOrThrow();
      const next = Number(top.top ?? 0) + 1;
      // Persisted (wrapped) before it encrypts anything: a key that encrypted data never lives only in memory.
      await trx
        .insertInto("key_versions")
        .values({ version: next, wrapped_key: this.#wrapper.wrap(next, key), created_at: now })
        .execute();
      await trx.updateTable("keyring_state").set({ primary_version: next }).where("id", "=", 1).execute();
      return next;
    });
    await this.#changed(version);
    return version;
  }

  async retire(minVersion: number): Promise<void> {
    await this.#upToDate();
    const latest = this.#ring.primaryVersion;
    if (!Number.isInteger(minVersion) || minVersion < 1 || minVersion > latest)
      throw ValidationError.field("minVersion", `must be from 1 to the latest version (${latest})`);
    await this.#db
      .updateTable("keyring_state")
      .set({ min_decryption_version: minVersion, updated_at: new Date().toISOString() })
      .where("id", "=", 1)
      .where("primary_version", ">=", minVersion)
      .execute();
    await this.#changed(latest);
  }

  mac(data: Buffer): Promise<string> {
    return this.#ring.mac(data);
  }

  async verifyMac(data: Buffer, mac: string): Promise<boolean> {
    await this.#knows(this.#ring.versionOf(mac));
    return this.#ring.verifyMac(data, mac);
  }

  async #changed(version: number): Promise<void> {
    await this.refresh();
    for (const l of this.#listeners) l(version);
  }

  /** A version this instance has not seen: another instance rotated; read the store again. */
  async #knows(version: number | undefined): Promise<void> {
    if (version !== undefined && !this.#ring.hasVersion(version)) await this.refresh();
  }

  async #upToDate(): Promise<void> {
    const state = await readState(this.#db);
    if (
      state &&
      (state.primary_version !== this.#ring.primaryVersion ||
        state.min_decryption_version !== this.#ring.minDecryptionVersion)
    )
      await this.refresh();
  }
}

function readState(db: Db) {
  return db
    .selectFrom("keyring_state")
    .select(["primary_version", "min_decryption_version"])
    .where("id", "=", 1)
    .executeTakeFirst();
}

async function readRing(db: Db, wrapper: KeyWrapper, masterKey: Buffer): Promise<LocalKeyring> {
  // One transaction: the versions and the state that names them, as one snapshot.
  const { state, rows } = await db.transaction().execute(async (trx) => ({
    state: await readState(trx),
    rows: await trx.selectFrom("key_versions").selectAll().orderBy("version").execute(),
  }));
  if (!state) throw new Error("the store has no keyring yet");
  const keys = new Map<number, Buffer>();
  const createdAt = new Map<number, string>();
  for (const r of rows) {
    keys.set(r.version, r.wrapped_key === null ? masterKey : wrapper.unwrap(r.version, r.wrapped_key));
    createdAt.set(r.version, r.created_at);
  }
  return new LocalKeyring(keys, state.primary_version, undefined, state.min_decryption_version, createdAt);
}

/** What a new keyring in the store starts from (see StoredKeyring.open). */
async function seedFor(db: Db, dataDir: string): Promise<Seed> {
  const now = new Date().toISOString();
  const file = join(dataDir, KEYRING_FILE);
  if (existsSync(file)) {
    const ring = JSON.parse(await readFile(file, "utf8")) as KeyringFile;
    return {
      keys: ring.keys.map((k) => ({
        version: k.version,
        key: Buffer.from(k.key, "base64"),
        createdAt: k.createdAt || now,
      })),
      primary: ring.primary,
      minDecryptionVersion: ring.minDecryptionVersion ?? 1,
      from: "keyring file",
    };
  }
  const written = await db
    .selectFrom("connections")
    .select("id")
    .where("username_enc", "like", "berth:%")
    .limit(1)
    .executeTakeFirst();
  const signed = await db
    .selectFrom("audit_events")
    .select("seq")
    .where("mac", "like", "berth:%")
    .limit(1)
    .executeTakeFirst();
  if (written || signed)
    return {
      keys: [{ version: 1, key: undefined, createdAt: now }],
      primary: 1,
      minDecryptionVersion: 1,
      from: "master key",
    };
  return {
    keys: [{ version: 1, key: randomBytes(KEY_BYTES), createdAt: now }],
    primary: 1,
    minDecryptionVersion: 1,
    from: "new",
  };
}

/** The state row goes in first: the instance that inserts it writes the versions; the others keep theirs. */
async function seedOnce(db: Db, wrapper: KeyWrapper, seed: Seed): Promise<void> {
  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    const r = await trx
      .insertInto("keyring_state")
      .values({
        id: 1,
        primary_version: seed.primary,
        min_decryption_version: seed.minDecryptionVersion,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) return;
    await trx
      .insertInto("key_versions")
      .values(
        seed.keys.map((k) => ({
          version: k.version,
          wrapped_key: k.key === undefined ? null : wrapper.wrap(k.version, k.key),
          created_at: k.createdAt,
        })),
      )
      .execute();
  });
}
