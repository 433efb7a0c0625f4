import type { EngineId, SslModeId } from "../engines/engine.js";

export type { SslModeId };
export const SSL_MODES: readonly SslModeId[] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

export type ConnectionStatusId = "untested" | "healthy" | "degraded" | "unavailable" | "failed";

export interface HostPort {
  readonly server: string;
  readonly port: number;
}

export interface PoolSettings {
  readonly maxPoolSize: number;
  readonly minPoolSize: number;
  readonly acquireTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** 0 = sessions are never replaced for age. */
  readonly maxLifetimeMs: number;
}

export const POOL_DEFAULTS: PoolSettings = {
  maxPoolSize: 10,
  minPoolSize: 0,
  acquireTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxLifetimeMs: 1_800_000,
};

/** The SSH bastion a connection is reached through; its secrets are in Credentials. */
export interface SshSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Pinned host key, known_hosts key format (`ssh-ed25519 AAAA...`); empty until confirmed. */
  readonly hostKey: string;
  /** Which secrets are stored (sealed with the credentials), so reads can say so without them. */
  readonly stored: { readonly privateKey: boolean; readonly passphrase: boolean; readonly password: boolean };
}

/** The bastion's secrets. Carried by Credentials, non-enumerable; never logged. */
export interface SshSecrets {
  readonly privateKey: string | undefined;
  readonly passphrase: string | undefined;
  readonly password: string | undefined;
}

/** A connection's configuration after validation and defaults, without credentials. */
export interface ConnectionSettings {
  readonly name: string;
  readonly type: EngineId;
  readonly server: string;
  readonly port: number;
  readonly database: string;
  readonly sslMode: SslModeId;
  readonly caCertificate: string;
  readonly clientCertificate: string;
  readonly tlsServerName: string;
  /** Engine-specific settings; empty/false where the engine has no such thing. */
  readonly engineOptions: EngineOptions;
  readonly pool: PoolSettings;
  readonly replicas: readonly HostPort[];
  readonly description: string;
  /** Absent: the database is reached directly. */
  readonly ssh?: SshSettings | undefined;
}

export interface EngineOptions {
  /** SQL Server named instance, resolved to a port through the SQL Server Browser (UDP 1434). */
  readonly instanceName: string;
  /** SQL Server TDS 8.0: TLS from the first byte (encrypt=strict), always verified. */
  readonly strictEncryption: boolean;
  /** Oracle SID, for databases addressed by SID rather than service name. */
  readonly oracleSid: string;
  /**
   * PostgreSQL and MySQL: answer a server that asks for the password in clear text on a connection
   * without TLS. Off: such a server is refused (cleartext_password_refused) and gets nothing.
   */
  readonly allowCleartextPassword: boolean;
  /** PostgreSQL: the front door pools this connection's clients per transaction, or per session. */
  readonly frontDoorPoolMode: FrontDoorPoolMode;
  /**
   * PostgreSQL: a replica whose replay lags more than this gets no reads until it catches up.
   * 0 = no bound.
   */
  readonly maxReplicaLagMs: number;
}

export type FrontDoorPoolMode = "transaction" | "session";

export const NO_ENGINE_OPTIONS: EngineOptions = {
  instanceName: "",
  strictEncryption: false,
  oracleSid: "",
  allowCleartextPassword: false,
  frontDoorPoolMode: "transaction",
  maxReplicaLagMs: 0,
};

/**
 * Credentials in plaintext. Exists only in memory, briefly: built from a request or decrypted for a
 * check or a pool, never logged (see toJSON) and never returned.
 */
export class Credentials {
  readonly username: string;
  declare readonly password: string;
  declare readonly clientKey: string | undefined;
  /** The SSH bastion's private key, passphrase and password, when the connection has a tunnel. */
  declare readonly ssh: SshSecrets | undefined;

  constructor(
    username: string,
    password: string,
    clientKey: string | undefined,
    ssh: SshSecrets | undefined = undefined,
  ) {
    this.username = username;
    // Non-enumerable: JSON.stringify, console.log and spread never see the secrets (DESIGN §2 rule 5).
    Object.defineProperty(this, "password", { value: password, enumerable: false });
    Object.defineProperty(this, "clientKey", { value: clientKey, enumerable: false });
    Object.defineProperty(this, "ssh", { value: ssh, enumerable: false });
  }

  toJSON(): object {
    return { username: "[redacted]", password: "[redacted]" };
  }
}

/** What a caller sends: the spec in the RFC's camelCase shape, nothing validated yet. */
export interface ConnectionSpecInput {
  name?: string | undefined;
  type?: string | undefined;
  server?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  useSsl?: boolean | undefined;
  sslMode?: string | undefined;
  caCertificate?: string | undefined;
  clientCertificate?: string | undefined;
  clientKey?: string | undefined;
  tlsServerName?: string | undefined;
  instanceName?: string | undefined;
  strictEncryption?: boolean | undefined;
  oracleSid?: string | undefined;
  allowCleartextPassword?: boolean | undefined;
  frontDoorPoolMode?: string | undefined;
  maxReplicaLagMs?: number | undefined;
  maxPoolSize?: number | undefined;
  minPoolSize?: number | undefined;
  acquireTimeoutMs?: number | undefined;
  idleTimeoutMs?: number | undefined;
  maxLifetimeMs?: number | undefined;
  replicas?: { server?: string | undefined; port?: number | undefined }[] | undefined;
  description?: string | undefined;
  /**
   * Absent, or an empty host: no tunnel — on update too, where that removes a stored one (an
   * endpoint change). Secrets absent from a present `ssh` keep the stored ones (see sshOf).
   */
  ssh?: SshSpecInput | undefined;
}

export interface SshSpecInput {
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  password?: string | undefined;
  hostKey?: string | undefined;
}

/**
 * Servers quote the user name in their errors ('password authentication failed for user "app"'),
 * and the user name is a credential: stored encrypted, never returned. Replaces both secrets in a
 * message. Short values are replaced only where quoted, so that a user called "a" does not garble
 * every word.
 */
export function scrubSecrets(text: string, credentials: Credentials): string {
  let out = text;
  const ssh = credentials.ssh;
  for (const secret of [
    credentials.password,
    credentials.username,
    ssh?.password ?? "",
    ssh?.passphrase ?? "",
    ssh?.privateKey ?? "",
  ]) {
    if (secret.length === 0) continue;
    out =
      secret.length >= 4
        ? out.split(secret).join("[redacted]")
        : out.replace(new RegExp(`(["'\`])${escapeRegExp(secret)}\\1`, "g"), "$1[redacted]$1");
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
