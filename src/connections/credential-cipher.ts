import type { KeyProvider, SecretField } from "../crypto/key-provider.js";
import type { NewConnectionRow, SealedConnectionRow } from "../store/schema.js";
import { Credentials } from "./settings.js";
import type { CredentialInput } from "./validation.js";

type SecretColumns = Pick<NewConnectionRow, "username_enc" | "password_enc" | "client_key_enc">;

/** What decrypting the credentials reads of a row: its id and their columns, nothing else. */
export type CredentialColumns = Pick<
  SealedConnectionRow,
  "id" | "username_enc" | "password_enc" | "client_key_enc"
>;

/**
 * Credentials in and out of their columns. Every ciphertext is bound to its connection and field
 * (the key provider's associated data), so a ciphertext copied to another row or column does not
 * decrypt.
 */
export function createCredentialCipher(keys: KeyProvider) {
  const encrypt = (id: string, field: SecretField, value: string) =>
    keys.encrypt(value, { connectionId: id, field });

  return {
    /** The key provider's name, for the validate recipe's report. */
    providerName: keys.name,

    /** All three columns of a new connection (no client key: null). */
    async encryptAll(id: string, c: CredentialInput): Promise<SecretColumns> {
      return {
        username_enc: await encrypt(id, "username", c.username ?? ""),
        password_enc: await encrypt(id, "password", c.password ?? ""),
        client_key_enc: c.clientKey ? await encrypt(id, "client_key", c.clientKey) : null,
      };
    },

    /** Only the columns of credentials the caller sent (an update keeps the others). */
    async encryptChanged(id: string, c: CredentialInput): Promise<Partial<SecretColumns>> {
      const out: Partial<SecretColumns> = {};
      if (c.username !== undefined) out.username_enc = await encrypt(id, "username", c.username);
      if (c.password !== undefined) out.password_enc = await encrypt(id, "password", c.password);
      if (c.clientKey !== undefined) out.client_key_enc = await encrypt(id, "client_key", c.clientKey);
      return out;
    },

    /**
     * The stored credentials, with `given` ones taking the place of stored ones (which are then not
     * decrypted at all: a credential being replaced may be one that no longer decrypts).
     */
    async decrypt(row: CredentialColumns, given: Partial<CredentialInput> = {}): Promise<Credentials> {
      const bind = (field: SecretField) => ({ connectionId: row.id, field });
      const [username, password, clientKey] = await Promise.all([
        given.username ?? keys.decrypt(row.username_enc, bind("username")),
        given.password ?? keys.decrypt(row.password_enc, bind("password")),
        given.clientKey ??
          (row.client_key_enc ? keys.decrypt(row.client_key_enc, bind("client_key")) : undefined),
      ]);
      return new Credentials(username, password, clientKey);
    },
  };
}

export type CredentialCipher = ReturnType<typeof createCredentialCipher>;

/** Credentials a caller sent for a new or unsaved configuration (absent ones are empty). */
export function credentialsFromInput(c: CredentialInput): Credentials {
  return new Credentials(c.username ?? "", c.password ?? "", c.clientKey);
}
