/**
 * Where a secret belongs. Bound to the ciphertext as associated data, so a ciphertext copied onto
 * another connection or another field fails to decrypt instead of yielding the wrong secret.
 */
export interface SecretBinding {
  readonly connectionId: string;
  readonly field: SecretField;
}

/**
 * The credentials; a connection's other settings, sealed together (`settings`); and the results
 * of its checks, which name the host they checked (`check_result`).
 */
export type SecretField = "username" | "password" | "client_key" | "settings" | "check_result";

export interface KeyStatus {
  /** "local" or "vault". */
  readonly provider: string;
  /** The key's name where the provider has one (Vault's transit key), else the keyring's path. */
  readonly keyName: string;
  readonly latestVersion: number;
  /** Versions below this no longer decrypt. */
  readonly minDecryptionVersion: number;
  /** Whether `rotate` can work (a key given in BERTH_MASTER_KEY cannot be rotated by Berth). */
  readonly rotatable: boolean;
}

/**
 * Encrypts and decrypts connection secrets. Implementations: the local keyring (AES-256-GCM,
 * envelope `berth:vN:…`) and Vault transit (`vault:vN:…`). Failures to authenticate a ciphertext
 * throw CredentialIntegrityError; a version below the minimum throws KeyVersionRetiredError; a
 * provider that cannot be reached throws UnavailableError — never a weaker fallback.
 */
export interface KeyProvider {
  readonly name: string;
  encrypt(plaintext: string, binding: SecretBinding): Promise<string>;
  decrypt(envelope: string, binding: SecretBinding): Promise<string>;
  /** Whether an envelope was written by this provider (by its prefix alone). */
  owns(envelope: string): boolean;
  /** The key version an envelope was written with, or undefined if it is not this provider's. */
  versionOf(envelope: string): number | undefined;
  /**
   * Re-encrypts one of this provider's envelopes under its newest version. Vault does it without
   * the plaintext ever leaving Vault; the local keyring decrypts and encrypts in memory.
   */
  rewrap(envelope: string, binding: SecretBinding): Promise<string>;
  status(): Promise<KeyStatus>;
  /** Makes a new key version the one that encrypts; returns it. */
  rotate(): Promise<number>;
  /** Stops versions below `minVersion` from decrypting. */
  retire(minVersion: number): Promise<void>;
  /**
   * An HMAC-SHA-256 of `data` under this provider's newest key version, as an envelope naming the
   * version (`berth:vN:…` / `vault:vN:…`): the audit chain's links and checkpoints. Never the
   * encryption key itself (the local keyring derives a MAC key per version; Vault keeps it).
   */
  mac(data: Buffer): Promise<string>;
  /** Whether `mac` (an envelope from `mac`) is the MAC of `data` under the version it names. */
  verifyMac(data: Buffer, mac: string): Promise<boolean>;
  /**
   * Providers whose keys other instances change (the keyring in a shared store): told after this
   * instance rotated or retired, so that the change can be announced to the others…
   */
  onChange?(listener: (version: number) => void): void;
  /** …which re-read their keys when told. */
  refresh?(): Promise<void>;
  /** Stops background work (a periodic re-read). */
  stop?(): void;
}

export function associatedData(binding: SecretBinding): Buffer {
  return Buffer.from(`berth-secret|${binding.connectionId}|${binding.field}`, "utf8");
}
