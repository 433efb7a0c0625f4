import { ValidationError } from "../errors/berth-error.js";
import { type ConnectionSettings, SSL_MODES } from "./settings.js";
import type { CredentialInput } from "./validation.js";

/**
 * The stored credentials are bound to the endpoint they were saved with. Whoever changes where they
 * would be sent — another host, port, replica, protocol, TLS trust or target inside the server —
 * must give them again, or the stored password would go to a place the caller chose (an editor
 * could point the port at a server of their own and read it). Nobody may read stored credentials,
 * global admins included, so nobody is exempt.
 *
 * Changes that can only narrow where the credentials go need nothing: removing a replica, a
 * stricter sslMode, turning strictEncryption on or allowCleartextPassword off.
 */
export function endpointChanges(before: ConnectionSettings, after: ConnectionSettings): string[] {
  const changed: string[] = [];
  const differs = (field: string, a: unknown, b: unknown) => {
    if (a !== b) changed.push(field);
  };
  differs("type", before.type, after.type);
  differs("server", before.server, after.server);
  differs("port", before.port, after.port);
  const stored = new Set(before.replicas.map((r) => `${r.server}:${r.port}`));
  after.replicas.forEach((r, i) => {
    if (!stored.has(`${r.server}:${r.port}`)) changed.push(`replicas[${i}]`);
  });
  if (SSL_MODES.indexOf(after.sslMode) < SSL_MODES.indexOf(before.sslMode)) changed.push("sslMode");
  differs("tlsServerName", before.tlsServerName, after.tlsServerName);
  differs("caCertificate", before.caCertificate, after.caCertificate);
  differs("clientCertificate", before.clientCertificate, after.clientCertificate);
  const [a, b] = [before.engineOptions, after.engineOptions];
  differs("instanceName", a.instanceName, b.instanceName);
  differs("oracleSid", a.oracleSid, b.oracleSid);
  // An Oracle service name is a target too: a listener may hand the session to another host.
  if (after.type === "oracle") differs("database", before.database, after.database);
  if (a.strictEncryption && !b.strictEncryption) changed.push("strictEncryption");
  if (!a.allowCleartextPassword && b.allowCleartextPassword) changed.push("allowCleartextPassword");
  changed.push(...sshChanges(before, after));
  return changed;
}

/**
 * Through an SSH bastion the credentials pass the bastion (and its forward goes where the database
 * host is, as the bastion sees it): adding, removing or moving the bastion, signing in there as
 * someone else, or trusting a host key moves them. Pinning a FIRST host key counts too: the update
 * is tested (and later used) with the stored SSH secrets and database credentials against the key
 * the caller chose, which may be a server of theirs (nobody is exempt, see above). Removing the pin
 * only narrows: no sign-in can complete without one.
 */
function sshChanges(before: ConnectionSettings, after: ConnectionSettings): string[] {
  const [a, b] = [before.ssh, after.ssh];
  if (!a && !b) return [];
  if (!a || !b) return ["ssh"];
  const changed: string[] = [];
  if (a.host !== b.host) changed.push("ssh.host");
  if (a.port !== b.port) changed.push("ssh.port");
  if (a.user !== b.user) changed.push("ssh.user");
  if (b.hostKey !== "" && a.hostKey !== b.hostKey) changed.push("ssh.hostKey");
  return changed;
}

/** A change of endpoint without the credentials (username and password) in the same request. */
export class CredentialsRequiredError extends ValidationError {
  constructor(changed: readonly string[], clientKey = false, sshSecrets = false) {
    const missing = "is required when the endpoint changes";
    super(
      [
        { field: "username", description: missing },
        { field: "password", description: `${missing} (send "" for a user without a password)` },
        ...(sshSecrets
          ? [
              {
                field: "ssh.privateKey",
                description: `${missing} (or ssh.password: the stored SSH secrets are bound to the bastion)`,
              },
            ]
          : []),
        ...(clientKey
          ? [
              {
                field: "clientKey",
                description: `${missing} (a stored client key signs in too; send "" to drop it)`,
              },
            ]
          : []),
      ],
      `Changing the host, port, replicas or TLS settings sends the credentials to a new place: give the username and password${clientKey ? " and the client key" : ""} again (changed: ${changed.join(", ")})`,
    );
    Object.assign(this.details, { reason: "credentials_required", changed: [...changed] });
  }
}

/**
 * Throws CredentialsRequiredError when `after` moves the credentials and they were not given. A
 * stored client key is a credential too (the certificate it signs for signs in wherever the CA is
 * trusted), so it must be given again as well while a client certificate is configured.
 */
export function requireCredentialsForEndpointChange(
  before: ConnectionSettings,
  after: ConnectionSettings,
  given: CredentialInput,
  hasStoredClientKey = false,
): void {
  requireCredentialsFor(endpointChanges(before, after), after, given, hasStoredClientKey);
}

/**
 * Throws CredentialsRequiredError unless `changed` is empty or the credentials were given. Also
 * for a change from stored settings that can no longer be read (changed: ["settings"]): nobody can
 * tell where the credentials went before, so the change counts as a move.
 */
export function requireCredentialsFor(
  changed: readonly string[],
  after: ConnectionSettings,
  given: CredentialInput,
  hasStoredClientKey = false,
  hasStoredSshSecrets = false,
): void {
  if (changed.length === 0) return;
  const keyMissing = hasStoredClientKey && after.clientCertificate !== "" && given.clientKey === undefined;
  // The bastion's secrets are bound to it like the database's to the database.
  const sshMissing =
    hasStoredSshSecrets &&
    after.ssh !== undefined &&
    changed.some((c) => c.startsWith("ssh")) &&
    given.ssh === undefined;
  if (
    given.username === undefined ||
    given.username === "" ||
    given.password === undefined ||
    keyMissing ||
    sshMissing
  )
    throw new CredentialsRequiredError(changed, keyMissing, sshMissing);
}
