import type { KeyProvider, SecretField } from "../crypto/key-provider.js";
import type { NewConnectionRow, SealedConnectionRow } from "../store/schema.js";
import { Credentials, type SshSecrets } from "./settings.js";
import type { CredentialInput } from "./validation.js";

type SecretColumns = Pick<
  NewConnectionRow,
  "username_enc" | "password_enc" | "client_key_enc" | "ssh_secrets_enc"
>;

/**
 * What decrypting the credentials reads of a row: its id and their columns, nothing else. A row
 * read before SSH tunnels existed has no ssh_secrets_enc: no tunnel.
 */
export type CredentialColumns = Pick<
  SealedConnectionRow,
  "id" | "username_enc" | "password_enc" | "client_key_enc"
> &
  Partial<Pick<SealedConnectionRow, "ssh_secrets_enc">>;

/** The SSH secrets sealed as one JSON document (absent ones left out). */
function sshDocument(s: SshSecrets): string {
  return JSON.stringify({ privateKey: s.privateKey, passphrase: s.passphrase, password: s.password });
}

function sshSecretsOf(json: string): SshSecrets {
  const o = JSON.parse(json) as Partial<Record<keyof SshSecrets, string>>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return { privateKey: str(o.privateKey), passphrase: str(o.passphrase), password: str(o.password) };
}

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
        ssh_secrets_enc: c.ssh ? await encrypt(id, "ssh_secrets", sshDocument(c.ssh)) : null,
      };
    },

    /** Only the columns of credentials the caller sent (an update keeps the others). */
    async encryptChanged(id: string, c: CredentialInput): Promise<Partial<SecretColumns>> {
      const out: Partial<SecretColumns> = {};
      if (c.username !== undefined) out.username_enc = await encrypt(id, "username", c.username);
      if (c.password !== undefined) out.password_enc = await encrypt(id, "password", c.password);
      if (c.clientKey !== undefined) out.client_key_enc = await encrypt(id, "client_key", c.clientKey);
      if (c.ssh !== undefined) out.ssh_secrets_enc = await encrypt(id, "ssh_secrets", sshDocument(c.ssh));
      return out;
    },

    /**
     * The stored credentials, with `given` ones taking the place of stored ones (which are then not
     * decrypted at all: a credential being replaced may be one that no longer decrypts).
     */
    async decrypt(row: CredentialColumns, given: Partial<CredentialInput> = {}): Promise<Credentials> {
      const bind = (field: SecretField) => ({ connectionId: row.id, field });
      const [username, password, clientKey, ssh] = await Promise.all([
        given.username ?? keys.decrypt(row.username_enc, bind("username")),
        given.password ?? keys.decrypt(row.password_enc, bind("password")),
        given.clientKey ??
          (row.client_key_enc ? keys.decrypt(row.client_key_enc, bind("client_key")) : undefined),
        given.ssh ??
          (row.ssh_secrets_enc
            ? keys.decrypt(row.ssh_secrets_enc, bind("ssh_secrets")).then(sshSecretsOf)
            : undefined),
      ]);
      return new Credentials(username, password, clientKey, ssh);
    },
  };
}

export type CredentialCipher = ReturnType<typeof createCredentialCipher>;

/** Credentials a caller sent for a new or unsaved configuration (absent ones are empty). */
export function credentialsFromInput(c: CredentialInput): Credentials {
  return new Credentials(c.username ?? "", c.password ?? "", c.clientKey, c.ssh);
}
