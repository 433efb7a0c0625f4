import { readFileSync } from "node:fs";
import createVaultClient from "node-vault";
import {
  CredentialIntegrityError,
  KeyVersionRetiredError,
  UnavailableError,
  ValidationError,
} from "../errors/berth-error.js";
import { associatedData, type KeyProvider, type KeyStatus, type SecretBinding } from "./key-provider.js";

export interface VaultTransitOptions {
  address: string;
  /** A Vault token; or AppRole credentials, exchanged for a token (and again when it expires). */
  token?: string | undefined;
  appRole?: { roleId: string; secretId: string; mount: string } | undefined;
  mount: string;
  keyName: string;
  namespace?: string | undefined;
  /** PEM file of the CA that signs Vault's certificate. */
  caCertFile?: string | undefined;
  timeoutMs: number;
  retries: number;
}

const ENVELOPE = /^vault:v(\d{1,9}):[A-Za-z0-9+/=]+$/;

/** What node-vault rejects with: the status and Vault's `{"errors": [...]}` body. */
interface VaultFailure {
  message: string;
  code?: string;
  response?: { statusCode: number; body?: { errors?: string[] } };
}

const statusOf = (err: unknown) => (err as VaultFailure).response?.statusCode;
const vaultMessage = (err: unknown) =>
  (err as VaultFailure).response?.body?.errors?.join("; ") || (err as Error).message || "no answer";

/** Certificate problems: retrying cannot help, and each attempt would cost a full handshake. */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL/;

/** Worth another attempt: the network, a timeout, a sealed or overloaded Vault. Not a 4xx, not TLS. */
function transient(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined) return !TLS_CODES.test(String((err as VaultFailure).code ?? ""));
  return status === 429 || status >= 500;
}

/**
 * Vault's transit engine as Berth's key provider (through node-vault, which has no timeouts or
 * retries of its own, so both are here). The connection id and field are sent as AEAD associated
 * data (Vault 1.13+), so a ciphertext moved to another record fails to decrypt, as with the local
 * keyring. The plaintext never travels in anything but the request body, over TLS in production,
 * and node-vault's debug output is silenced so that it can never log one.
 */
export class VaultTransit implements KeyProvider {
  readonly name = "vault";
  readonly #vault: ReturnType<typeof createVaultClient>;
  readonly #options: VaultTransitOptions;
  #login: Promise<void> | undefined;

  constructor(options: VaultTransitOptions) {
    this.#options = options;
    this.#vault = createVaultClient({
      endpoint: options.address,
      token: options.token,
      namespace: options.namespace,
      // node-vault logs request bodies — plaintexts — under DEBUG=node-vault. Never.
      debug: () => {},
      requestOptions: {
        timeout: options.timeoutMs,
        ...(options.caCertFile ? { ca: readFileSync(options.caCertFile) } : {}),
      },
    } as Parameters<typeof createVaultClient>[0]);
  }

  /** Checks that Vault answers and the key exists; transit would otherwise create it on first use. */
  async verify(): Promise<KeyStatus> {
    return this.status();
  }

  owns(envelope: string): boolean {
    return envelope.startsWith("vault:v");
  }

  versionOf(envelope: string): number | undefined {
    const m = ENVELOPE.exec(envelope);
    return m ? Number(m[1]) : undefined;
  }

  async encrypt(plaintext: string, binding: SecretBinding): Promise<string> {
    const r = await this.#call("encrypt", binding, () =>
      this.#vault.write(this.#path("encrypt"), {
        plaintext: Buffer.from(plaintext, "utf8").toString("base64"),
        associated_data: associatedData(binding).toString("base64"),
      }),
    );
    return String(r.data.ciphertext);
  }

  async decrypt(envelope: string, binding: SecretBinding): Promise<string> {
    if (!ENVELOPE.test(envelope)) throw new CredentialIntegrityError(binding.connectionId, binding.field);
    const r = await this.#call(
      "decrypt",
      binding,
      () =>
        this.#vault.write(this.#path("decrypt"), {
          ciphertext: envelope,
          associated_data: associatedData(binding).toString("base64"),
        }),
      envelope,
    );
    return Buffer.from(String(r.data.plaintext), "base64").toString("utf8");
  }

  async rewrap(envelope: string, binding: SecretBinding): Promise<string> {
    if (!ENVELOPE.test(envelope)) throw new CredentialIntegrityError(binding.connectionId, binding.field);
    const r = await this.#call(
      "rewrap",
      binding,
      () =>
        this.#vault.write(this.#path("rewrap"), {
          ciphertext: envelope,
          associated_data: associatedData(binding).toString("base64"),
        }),
      envelope,
    );
    return String(r.data.ciphertext);
  }

  async status(): Promise<KeyStatus> {
    const r = await this.#call("read the key", undefined, () =>
      this.#vault.read(`${this.#options.mount}/keys/${encodeURIComponent(this.#options.keyName)}`),
    );
    return {
      provider: this.name,
      keyName: `${this.#options.mount}/keys/${this.#options.keyName}`,
      latestVersion: Number(r.data.latest_version),
      minDecryptionVersion: Number(r.data.min_decryption_version),
      rotatable: true,
    };
  }

  async rotate(): Promise<number> {
    await this.#call("rotate the key", undefined, () =>
      this.#vault.write(
        `${this.#options.mount}/keys/${encodeURIComponent(this.#options.keyName)}/rotate`,
        {},
      ),
    );
    return (await this.status()).latestVersion;
  }

  async retire(minVersion: number): Promise<void> {
    const { latestVersion } = await this.status();
    if (!Number.isInteger(minVersion) || minVersion < 1 || minVersion > latestVersion)
      throw ValidationError.field("minVersion", `must be from 1 to the latest version (${latestVersion})`);
    await this.#call("retire key versions", undefined, () =>
      this.#vault.write(`${this.#options.mount}/keys/${encodeURIComponent(this.#options.keyName)}/config`, {
        min_decryption_version: minVersion,
      }),
    );
  }

  /** transit/hmac: Vault MACs with the key's latest version and never hands the key out. */
  async mac(data: Buffer): Promise<string> {
    const r = await this.#call("compute an audit MAC", undefined, () =>
      this.#vault.write(this.#path("hmac"), { input: data.toString("base64") }),
    );
    return String(r.data.hmac);
  }

  /** transit/verify: `valid` false for a MAC that does not match; a refused version is not valid either. */
  async verifyMac(data: Buffer, mac: string): Promise<boolean> {
    if (!/^vault:v\d{1,9}:[A-Za-z0-9+/=]+$/.test(mac)) return false;
    try {
      const r = await this.#call("verify an audit MAC", undefined, () =>
        this.#vault.write(this.#path("verify"), { input: data.toString("base64"), hmac: mac }),
      );
      return r.data.valid === true;
    } catch (err) {
      // A 400 is Vault refusing this MAC (malformed, or a version it no longer accepts): not valid.
      if ((err as { details?: { http_status?: number } }).details?.http_status === 400) return false;
      throw err;
    }
  }

  #path(operation: "encrypt" | "decrypt" | "rewrap" | "hmac" | "verify"): string {
    return `${this.#options.mount}/${operation}/${encodeURIComponent(this.#options.keyName)}`;
  }

  async #ensureToken(force = false): Promise<void> {
    const role = this.#options.appRole;
    if (!role) return;
    if (this.#login && !force) return this.#login;
    this.#login = (async () => {
      const r = await this.#vault.approleLogin({
        mount_point: role.mount,
        role_id: role.roleId,
        secret_id: role.secretId,
      });
      this.#vault.token = String(r.auth.client_token);
    })();
    this.#login.catch(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /**
   * One Vault call with the provider's bounds: each attempt has the timeout; transient failures
   * are retried with exponential backoff and jitter; what remains is a typed error. An expired
   * AppRole token is renewed once. Vault's own messages never contain the plaintext.
   */
  async #call(
    what: string,
    binding: SecretBinding | undefined,
    request: () => Promise<{ data: Record<string, unknown> }>,
    envelope?: string,
  ): Promise<{ data: Record<string, unknown> }> {
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#ensureToken();
        return await request();
      } catch (err) {
        const status = statusOf(err);
        const message = vaultMessage(err);
        if (status === 403 && this.#options.appRole && !renewed) {
          renewed = true;
          await this.#ensureToken(true).catch(() => {});
          continue;
        }
        // A 400 about a ciphertext is about the stored record; a 400 on encrypt is about the key.
        if (status === 400 && binding && envelope) {
          if (/too old|disallowed by policy/i.test(message)) {
            const version = envelope ? (this.versionOf(envelope) ?? 0) : 0;
            throw new KeyVersionRetiredError(binding.connectionId, binding.field, version, version + 1);
          }
          throw new CredentialIntegrityError(binding.connectionId, binding.field, { cause: err });
        }
        if (transient(err) && attempt < this.#options.retries) {
          const backoff = Math.min(1000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
          await new Promise((r) => setTimeout(r, backoff));
          continue;
        }
        throw new UnavailableError(
          `Vault transit could not ${what}: ${status ? `HTTP ${status}: ` : ""}${message}`,
          {
            reason:
              status === 404
                ? "kms_key_missing"
                : status === 403
                  ? "kms_permission_denied"
                  : status !== undefined && status < 500 && status !== 429
                    ? "kms_rejected"
                    : "kms_unavailable",
            provider: "vault",
            ...(status ? { http_status: status } : {}),
          },
          { cause: err },
        );
      }
    }
  }
}
