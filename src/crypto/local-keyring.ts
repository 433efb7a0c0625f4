import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CredentialIntegrityError } from "../errors/berth-error.js";
import { associatedData, type KeyProvider, type SecretBinding } from "./key-provider.js";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const ENVELOPE = /^berth:v(\d{1,9}):([A-Za-z0-9_-]+)$/;

interface KeyringFile {
  format: 1;
  primary: number;
  keys: { version: number; key: string; createdAt: string }[];
}

/**
 * AES-256-GCM with versioned keys. The envelope is `berth:v<key version>:<base64url(nonce ‖
 * ciphertext ‖ tag)>`, mirroring Vault transit's `vault:v<N>:` so that both can share one column.
 * Encryption always uses the primary (newest) key; every version in the ring still decrypts.
 */
export class LocalKeyring implements KeyProvider {
  readonly name = "local";
  readonly #keys: Map<number, Buffer>;
  readonly #primary: number;

  constructor(keys: Map<number, Buffer>, primary: number) {
    if (!keys.has(primary)) throw new Error(`keyring has no key version ${primary}`);
    for (const [v, k] of keys)
      if (k.length !== KEY_BYTES) throw new Error(`key version ${v} is not 256 bits`);
    this.#keys = keys;
    this.#primary = primary;
  }

  get primaryVersion(): number {
    return this.#primary;
  }

  async encrypt(plaintext: string, binding: SecretBinding): Promise<string> {
    const key = this.#keys.get(this.#primary)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(binding));
    const body = Buffer.concat([
      nonce,
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `berth:v${this.#primary}:${body.toString("base64url")}`;
  }

  async decrypt(envelope: string, binding: SecretBinding): Promise<string> {
    const m = ENVELOPE.exec(envelope);
    const key = m ? this.#keys.get(Number(m[1])) : undefined;
    if (!m || !key) throw new CredentialIntegrityError(binding.connectionId, binding.field);
    const body = Buffer.from(m[2]!, "base64url");
    if (body.length < NONCE_BYTES + TAG_BYTES)
      throw new CredentialIntegrityError(binding.connectionId, binding.field);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, body.subarray(0, NONCE_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(associatedData(binding));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch (cause) {
      throw new CredentialIntegrityError(binding.connectionId, binding.field, { cause });
    }
  }

  versionOf(envelope: string): number | undefined {
    const m = ENVELOPE.exec(envelope);
    return m ? Number(m[1]) : undefined;
  }
}

export const KEYRING_FILE = "keyring.json";

/**
 * The keyring for the embedded default: from BERTH_MASTER_KEY when given (one key, version 1, never
 * written), else `<dataDir>/keyring.json`, created on first start with mode 0600.
 */
export async function openLocalKeyring(
  dataDir: string,
  masterKey: Buffer | undefined,
): Promise<LocalKeyring> {
  if (masterKey) return new LocalKeyring(new Map([[1, masterKey]]), 1);
  const path = join(dataDir, KEYRING_FILE);
  let file: KeyringFile;
  try {
    file = JSON.parse(await readFile(path, "utf8")) as KeyringFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`Cannot read the keyring at ${path}: ${(err as Error).message}`);
    }
    file = {
      format: 1,
      primary: 1,
      keys: [
        { version: 1, key: randomBytes(KEY_BYTES).toString("base64"), createdAt: new Date().toISOString() },
      ],
    };
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // Write-then-rename so that a crash never leaves a half-written keyring behind.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await rename(tmp, path);
  }
  await chmod(path, 0o600);
  const keys = new Map(file.keys.map((k) => [k.version, Buffer.from(k.key, "base64")] as const));
  return new LocalKeyring(keys, file.primary);
}
