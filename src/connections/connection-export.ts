import { requirePerson } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionRow } from "../store/schema.js";
import type { CredentialCipher } from "./credential-cipher.js";
import { inputFromRow } from "./row-mapping.js";
import type { ConnectionSpecInput, SshSecrets } from "./settings.js";

/** A visible row with its settings opened, checked for the principal's level. */
type OpenedRow = (
  principal: Principal,
  id: string,
  required: AccessLevel,
  what: string,
) => Promise<ConnectionRow>;

/**
 * For a bundle: the connection as a caller would send it, credentials included. Reading the
 * credentials back is what a bundle is for, so it takes the admin level (README, Bundles).
 */
export async function exportSpec(
  cipher: CredentialCipher,
  openedRow: OpenedRow,
  principal: Principal,
  id: string,
): Promise<ConnectionSpecInput> {
  // The level first: a connection the caller cannot see is not_found, whoever asks.
  const row = await openedRow(principal, id, "admin", "export");
  requirePerson(principal, "export connections");
  const c = await cipher.decrypt(row);
  const input = inputFromRow(row);
  return {
    ...input,
    username: c.username,
    password: c.password,
    ...(c.clientKey !== undefined ? { clientKey: c.clientKey } : {}),
    // The SSH bastion with its secrets, as a Create takes them.
    ...(input.ssh && c.ssh ? { ssh: { ...input.ssh, ...definedOnly(c.ssh) } } : {}),
  };
}

function definedOnly(s: SshSecrets): Partial<SshSecrets> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
}
