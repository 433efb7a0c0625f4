import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CredentialIntegrityError,
  FailedPreconditionError,
  KeyVersionRetiredError,
  ValidationError,
} from "../errors/berth-error.js";
import { associatedData, type KeyProvider, type KeyStatus, type SecretBinding } from "./key-provider.js";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const ENVELOPE = /^berth:v(\d{1,9}):([A-Za-z0-9_-]+)$/;
/** The audit MAC key of a version is derived from its data key: the data key itself never MACs. */
const MAC_INFO = "berth audit chain v1";

export interface KeyringFile {
  format: 1;
  primary: number;
  /** Versions below this are retired: kept in the file (so retiring can be undone) but never used. */
  minDecryptionVersion?: number;
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
  #primary: number;
  #minDecryptionVersion: number;
  /** Where rotation and retirement are persisted; undefined for a key from BERTH_MASTER_KEY. */
  readonly #path: string | undefined;

  /** Derived audit MAC keys, per version. */
  readonly #macKeys = new Map<number, Buffer>();

  /** When each version was made, kept when the file is rewritten. */
  readonly #createdAt: Map<number, string>;

  constructor(
    keys: Map<number, Buffer>,
    primary: number,
    path?: string,
    minDecryptionVersion = 1,
    createdAt = new Map<number, string>(),
  ) {
    if (!keys.has(primary)) throw new Error(`keyring has no key version ${primary}`);
    for (const [v, k] of keys)
      if (k.length !== KEY_BYTES) throw new Error(`key version ${v} is not 256 bits`);
    this.#keys = keys;
    this.#primary = primary;
    this.#path = path;
    this.#minDecryptionVersion = minDecryptionVersion;
    this.#createdAt = createdAt;
  }

  get primaryVersion(): number {
    return this.#primary;
  }

  get minDecryptionVersion(): number {
    return this.#minDecryptionVersion;
  }

  /** Whether the ring holds a version (retired or not). */
  hasVersion(version: number): boolean {
    return this.#keys.has(version);
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
    const version = m ? Number(m[1]) : 0;
    if (m && version < this.#minDecryptionVersion && this.#keys.has(version))
      throw new KeyVersionRetiredError(
        binding.connectionId,
        binding.field,
        version,
        this.#minDecryptionVersion,
      );
    const key = m ? this.#keys.get(version) : undefined;
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

  owns(envelope: string): boolean {
    return envelope.startsWith("berth:v");
  }

  versionOf(envelope: string): number | undefined {
    const m = ENVELOPE.exec(envelope);
    return m ? Number(m[1]) : undefined;
  }

  async rewrap(envelope: string, binding: SecretBinding): Promise<string> {
    return this.encrypt(await this.decrypt(envelope, binding), binding);
  }

  async status(): Promise<KeyStatus> {
    return {
      provider: this.name,
      keyName: this.#path ?? "BERTH_MASTER_KEY",
      latestVersion: this.#primary,
      minDecryptionVersion: this.#minDecryptionVersion,
      rotatable: this.#path !== undefined,
    };
  }

  async rotate(): Promise<number> {
    const path = this.#writablePath("rotated");
    const version = Math.max(...this.#keys.keys()) + 1;
    const key = randomBytes(KEY_BYTES);
    // Persist first: a key that encrypted anything must never exist only in memory.
    this.#createdAt.set(version, new Date().toISOString());
    await writeKeyring(
      path,
      this.#file(new Map([...this.#keys, [version, key]]), version, this.#minDecryptionVersion),
    );
    this.#keys.set(version, key);
    this.#primary = version;
    return version;
  }

  async retire(minVersion: number): Promise<void> {
    const path = this.#writablePath("retired");
    if (!Number.isInteger(minVersion) || minVersion < 1 || minVersion > this.#primary)
      throw ValidationError.field("minVersion", `must be from 1 to the latest version (${this.#primary})`);
    await writeKeyring(path, this.#file(this.#keys, this.#primary, minVersion));
    this.#minDecryptionVersion = minVersion;
  }

  async mac(data: Buffer): Promise<string> {
    return `berth:v${this.#primary}:${this.#hmac(this.#primary, data).toString("base64url")}`;
  }

  /**
   * Any version still in the ring verifies, retired ones included: retiring stops a key from
   * decrypting secrets, not from vouching for what it signed while it was current.
   */
  async verifyMac(data: Buffer, mac: string): Promise<boolean> {
    const m = ENVELOPE.exec(mac);
    const version = m ? Number(m[1]) : 0;
    if (!m || !this.#keys.has(version)) return false;
    const expected = this.#hmac(version, data);
    const given = Buffer.from(m[2]!, "base64url");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #hmac(version: number, data: Buffer): Buffer {
    let key = this.#macKeys.get(version);
    if (!key) {
      key = Buffer.from(hkdfSync("sha256", this.#keys.get(version)!, Buffer.alloc(0), MAC_INFO, KEY_BYTES));
      this.#macKeys.set(version, key);
    }
    return createHmac("sha256", key).update(data).digest();
  }

  #writablePath(what: string): string {
    if (!this.#path)
      throw new FailedPreconditionError(
        `The key comes from BERTH_MASTER_KEY and cannot be ${what} by Berth: use a keyring file (unset BERTH_MASTER_KEY) or Vault transit`,
        { reason: "key_not_rotatable" },
      );
    return this.#path;
  }

  #file(keys: Map<number, Buffer>, primary: number, minDecryptionVersion: number): KeyringFile {
    return {
      format: 1,
      primary,
      minDecryptionVersion,
      keys: [...keys].map(([version, key]) => ({
        version,
        key: key.toString("base64"),
        createdAt: this.#createdAt.get(version) ?? "",
      })),
    };
  }
}

/** Write-then-rename, mode 0600: a crash never leaves a half-written keyring behind. */
async function writeKeyring(path: string, file: KeyringFile): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await rename(tmp, path);
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
  return openKeyringFile(dataDir);
}

/** The keyring file alone, created when missing. */
export async function openKeyringFile(dataDir: string): Promise<LocalKeyring> {
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
    await writeKeyring(path, file);
  }
  await chmod(path, 0o600);
  const keys = new Map(file.keys.map((k) => [k.version, Buffer.from(k.key, "base64")] as const));
  const createdAt = new Map(file.keys.map((k) => [k.version, k.createdAt] as const));
  return new LocalKeyring(keys, file.primary, path, file.minDecryptionVersion ?? 1, createdAt);
}
