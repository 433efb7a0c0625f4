import type { Db } from "../store/store.js";
import { KeyUnwrapError, KeyWrapper } from "./key-wrap.js";
import { LocalKeyring } from "./local-keyring.js";

/** Neither master key opens a version of the stored keyring: nothing was changed. */
export class MasterKeyRotationError extends Error {
  constructor(readonly version: number) {
    super(
      `neither BERTH_MASTER_KEY nor BERTH_MASTER_KEY_PREVIOUS unwraps key version ${version} of the keyring in the store; nothing was rewrapped`,
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
 * A version stored without a wrapped key (a store that predates the stored keyring, whose data key
 * is the master key it was set up with) gets its key wrapped too: the master key that decrypts one
 * of its envelopes, or, with none to try, the previous one (that is what the store was set up with
 * if a rotation is asked for).
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

/** Which master key is an unwrapped version's data key: the one that decrypts its envelope. */
async function masterKeyInUse(db: Db, version: number, candidates: [Buffer, Buffer]): Promise<Buffer> {
  const sample = await db
    .selectFrom("connections")
    .select(["id", "username_enc"])
    .where("username_enc", "like", `berth:v${version}:%`)
    .limit(1)
    .executeTakeFirst();
  if (!sample) return candidates[0];
  for (const key of candidates) {
    const ring = new LocalKeyring(new Map([[version, key]]), version);
    const opened = await ring
      .decrypt(sample.username_enc, { connectionId: sample.id, field: "username" })
      .then(() => true)
      .catch(() => false);
    if (opened) return key;
  }
  throw new MasterKeyRotationError(version);
}
