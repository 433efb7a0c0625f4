import { CredentialIntegrityError, FailedPreconditionError } from "../errors/berth-error.js";
import type { KeyProvider, KeyStatus, SecretBinding } from "./key-provider.js";

/**
 * The configured provider (which encrypts everything new) and the other one, when it is still
 * configured, for secrets written before a move between the local keyring and Vault. Each envelope
 * says whose it is (`berth:v…` or `vault:v…`), so decrypting needs no bookkeeping.
 */
export class KeySet implements KeyProvider {
  readonly primary: KeyProvider;
  readonly others: readonly KeyProvider[];

  constructor(primary: KeyProvider, others: readonly KeyProvider[] = []) {
    this.primary = primary;
    this.others = others;
  }

  get name(): string {
    return this.primary.name;
  }

  get all(): readonly KeyProvider[] {
    return [this.primary, ...this.others];
  }

  /** The provider that wrote an envelope, if it is configured. */
  ownerOf(envelope: string): KeyProvider | undefined {
    return this.all.find((p) => p.owns(envelope));
  }

  /** "local" / "vault" by prefix, whether or not that provider is configured. */
  static providerNameOf(envelope: string): string {
    return envelope.startsWith("vault:") ? "vault" : envelope.startsWith("berth:") ? "local" : "unknown";
  }

  owns(envelope: string): boolean {
    return this.ownerOf(envelope) !== undefined;
  }

  encrypt(plaintext: string, binding: SecretBinding): Promise<string> {
    return this.primary.encrypt(plaintext, binding);
  }

  decrypt(envelope: string, binding: SecretBinding): Promise<string> {
    return this.#owner(envelope, binding).decrypt(envelope, binding);
  }

  versionOf(envelope: string): number | undefined {
    return this.ownerOf(envelope)?.versionOf(envelope);
  }

  /** To the primary's newest version: Vault rewraps in place; a move between providers decrypts with one and encrypts with the other. */
  async rewrap(envelope: string, binding: SecretBinding): Promise<string> {
    const owner = this.#owner(envelope, binding);
    if (owner === this.primary) return owner.rewrap(envelope, binding);
    return this.primary.encrypt(await owner.decrypt(envelope, binding), binding);
  }

  status(): Promise<KeyStatus> {
    return this.primary.status();
  }

  rotate(): Promise<number> {
    return this.primary.rotate();
  }

  retire(minVersion: number): Promise<void> {
    return this.primary.retire(minVersion);
  }

  mac(data: Buffer): Promise<string> {
    return this.primary.mac(data);
  }

  /** By the provider that wrote the MAC: a MAC from before a move between providers still verifies. */
  async verifyMac(data: Buffer, mac: string): Promise<boolean> {
    const owner = this.ownerOf(mac);
    if (!owner) return false;
    return owner.verifyMac(data, mac);
  }

  /** Every provider that can say its keys changed (the keyring in a shared store). */
  onChange(listener: (version: number) => void): void {
    for (const p of this.all) p.onChange?.(listener);
  }

  /** Re-reads keys another instance changed. */
  async refresh(): Promise<void> {
    await Promise.all(this.all.map((p) => p.refresh?.()));
  }

  stop(): void {
    for (const p of this.all) p.stop?.();
  }

  #owner(envelope: string, binding: SecretBinding): KeyProvider {
    const owner = this.ownerOf(envelope);
    if (owner) return owner;
    const provider = KeySet.providerNameOf(envelope);
    if (provider === "unknown") throw new CredentialIntegrityError(binding.connectionId, binding.field);
    throw new FailedPreconditionError(
      `The stored ${binding.field} of connection ${binding.connectionId} was encrypted by the ${provider} key provider, which is not configured`,
      { reason: "provider_not_configured", provider, connection_id: binding.connectionId },
    );
  }
}
