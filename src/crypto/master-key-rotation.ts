import type { Db } from "../store/store.js";
import { KeyUnwrapError, KeyWrapper } from "./key-wrap.js";
import { LocalKeyring } from "./local-keyring.js";

/** A version of the stored keyring cannot be rewrapped (see the reason): nothing was changed. */
export class MasterKeyRotationError extends Error {
  constructor(
    readonly version: number,
    why = "neither BERTH_MASTER_KEY nor BERTH_MASTER_KEY_PREVIOUS unwraps it",
  ) {
    super(
      `key version ${version} of the keyring in the store cannot be rewrapped: ${why}; nothing was rewrapped`,
    );
    this.name = "MasterKeyRotationError";
  }
}

/**
 * Replaces the master key that wraps the stored keyring (shared mode): every data key the new
 * master key does not open is unwrapped with the previous one and wrapped with the new one, in one
 * transaction, each row compare-and-swapped, so instances starting together with both keys rewrap
 * once and an instance still on the previous key alone fails to start rather than write. The data
 * keys themselves do not change: no secret is re-encrypted. Returns the versions rewrapped.
 *
 * Version 1 stored without a wrapped key (a store that predates the stored keyring, whose data key
 * is the master key it was set up with) gets its key wrapped too: the master key that decrypts a
 * secret sealed with it. Without such a secret, or for any other version, nothing is changed.
 */
export async function rewrapUnderNewMaster(db: Db, current: Buffer, previous: Buffer): Promise<number[]> {
  const now = new KeyWrapper(current);
  const before = new KeyWrapper(previous);
  return db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom("key_versions").select(["version", "wrapped_key"]).execute();
    const rewrapped: number[] = [];
    for (const { version, wrapped_key: wrapped } of rows) {
      const dataKey =
        wrapped === null
          ? await masterKeyInUse(trx, version, [previous, current])
          : openedByPrevious(now, before, version, wrapped);
      if (!dataKey) continue;
      const r = await trx
        .updateTable("key_versions")
        .set({ wrapped_key: now.wrap(version, dataKey) })
        .where("version", "=", version)
        .where((eb) => (wrapped === null ? eb("wrapped_key", "is", null) : eb("wrapped_key", "=", wrapped)))
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) rewrapped.push(version);
    }
    return rewrapped;
  });
}

/** The data key when only the previous master key opens it; undefined when the new one already does. */
function openedByPrevious(
  now: KeyWrapper,
  before: KeyWrapper,
  version: number,
  wrapped: string,
): Buffer | undefined {
  try {
    now.unwrap(version, wrapped);
    return undefined;
  } catch (err) {
    if (!(err instanceof KeyUnwrapError)) throw err;
  }
  try {
    return before.unwrap(version, wrapped);
  } catch {
    throw new MasterKeyRotationError(version);
  }
}

/** Which master key is an unwrapped version's data key: the one that decrypts a secret sealed with it. */
async function masterKeyInUse(db: Db, version: number, candidates: [Buffer, Buffer]): Promise<Buffer> {
  // Only version 1 was ever stored unwrapped (the master key itself, before the keyring moved into
  // the store): a later version without a wrap is a tampered row, never a key to adopt.
  if (version !== 1)
    throw new MasterKeyRotationError(
      version,
      "it has no wrapped key, which only version 1 of an old store may lack",
    );
  const sample = await sealedSample(db, version);
  // Nothing sealed with it to tell the two keys apart: adopting a guess could replace the real data
  // key by a wrong one (and lose everything sealed with it), so nothing is changed.
  if (!sample)
    throw new MasterKeyRotationError(
      version,
      "no secret sealed with it is left to tell which master key it is",
    );
  for (const key of candidates) {
    const ring = new LocalKeyring(new Map([[version, key]]), version);
    const opened = await ring
      .decrypt(sample.envelope, sample.binding)
      .then(() => true)
      .catch(() => false);
    if (opened) return key;
  }
  throw new MasterKeyRotationError(version);
}

/** One secret sealed with the version: a connection's user name, password or settings. */
async function sealedSample(db: Db, version: number) {
  const prefix = `berth:v${version}:%`;
  for (const [column, field] of [
    ["username_enc", "username"],
    ["password_enc", "password"],
    ["settings_enc", "settings"],
  ] as const) {
    const row = await db
      .selectFrom("connections")
      .select(["id", column])
      .where(column, "like", prefix)
      .limit(1)
      .executeTakeFirst();
    const envelope = row?.[column as keyof typeof row];
    if (row && typeof envelope === "string") return { envelope, binding: { connectionId: row.id, field } };
  }
  return undefined;
}
