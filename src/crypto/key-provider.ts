/**
 * Where a secret belongs. Bound to the ciphertext as associated data, so a ciphertext copied onto
 * another connection or another field fails to decrypt instead of yielding the wrong secret.
 */
export interface SecretBinding {
  readonly connectionId: string;
  readonly field: SecretField;
}

export type SecretField = "username" | "password" | "client_key";

/**
 * Encrypts and decrypts connection secrets. Implementations: the local keyring (AES-256-GCM,
 * envelope `berth:vN:…`) and, later, Vault transit (`vault:vN:…`). Failures to authenticate a
 * ciphertext throw CredentialIntegrityError; a provider that cannot be reached throws UnavailableError.
 */
export interface KeyProvider {
  readonly name: string;
  encrypt(plaintext: string, binding: SecretBinding): Promise<string>;
  decrypt(envelope: string, binding: SecretBinding): Promise<string>;
  /** The key version an envelope was written with, or undefined if it is not this provider's. */
  versionOf(envelope: string): number | undefined;
}

export function associatedData(binding: SecretBinding): Buffer {
  return Buffer.from(`berth-secret|${binding.connectionId}|${binding.field}`, "utf8");
}
