import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const WRAPPED = /^wrap1:([A-Za-z0-9_-]+)$/;
/** The wrapping key is derived from BERTH_MASTER_KEY: the master key itself never encrypts a data key. */
const WRAP_INFO = "berth keyring wrap v1";

/** BERTH_MASTER_KEY does not open what the store holds: another key, or a tampered row. */
export class KeyUnwrapError extends Error {
  constructor(readonly version: number) {
    super(
      `BERTH_MASTER_KEY does not unwrap key version ${version} of the keyring in the store: every instance must be given the master key the store was set up with`,
    );
    this.name = "KeyUnwrapError";
  }
}

/** AES-256-GCM under a key derived from the master key; each wrapped key is bound to its version. */
export class KeyWrapper {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== KEY_BYTES) throw new Error("the master key is not 256 bits");
    this.#key = Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), WRAP_INFO, KEY_BYTES));
  }

  /** `wrap1:<base64url(nonce ‖ ciphertext ‖ tag)>`. */
  wrap(version: number, dataKey: Buffer): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(boundTo(version));
    const body = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return `wrap1:${body.toString("base64url")}`;
  }

  /** The data key, or KeyUnwrapError (wrong master key, a row edited or moved to another version). */
  unwrap(version: number, wrapped: string): Buffer {
    const m = WRAPPED.exec(wrapped);
    const body = m ? Buffer.from(m[1]!, "base64url") : Buffer.alloc(0);
    if (body.length !== NONCE_BYTES + KEY_BYTES + TAG_BYTES) throw new KeyUnwrapError(version);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, body.subarray(0, NONCE_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(boundTo(version));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new KeyUnwrapError(version);
    }
  }
}

function boundTo(version: number): Buffer {
  return Buffer.from(`berth-keyring|v${version}`, "utf8");
}
