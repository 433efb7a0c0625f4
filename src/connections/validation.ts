import { createPrivateKey, X509Certificate } from "node:crypto";
import { ENGINE_IDS, ENGINES, type EngineId, isEngineId } from "../engines/index.js";
import { type FieldViolation, ValidationError } from "../errors/berth-error.js";
import { hostProblem, normalizeHost } from "./host.js";
import {
  type ConnectionSettings,
  type ConnectionSpecInput,
  type EngineOptions,
  type HostPort,
  POOL_DEFAULTS,
  type PoolSettings,
  SSL_MODES,
  type SshSecrets,
  type SshSettings,
  type SslModeId,
} from "./settings.js";
import { sshOf } from "./ssh-validation.js";

export const LIMITS = {
  nameChars: 100,
  databaseChars: 128,
  usernameChars: 128,
  passwordChars: 1024,
  pemChars: 64 * 1024,
  descriptionChars: 1000,
  replicas: 16,
  maxPoolSize: 1000,
  acquireTimeoutMs: { min: 100, max: 600_000 },
  idleTimeoutMs: { min: 1_000, max: 86_400_000 },
  maxLifetimeMs: { max: 7 * 86_400_000 },
} as const;

const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u;
// Control characters have no business in names, databases or user names, and make logs lie.
const CONTROL = /[\p{Cc}\p{Cf}]/u;

/** Secrets as sent; absent ones are undefined (on update: keep what is stored). */
export interface CredentialInput {
  username: string | undefined;
  password: string | undefined;
  clientKey: string | undefined;
  /** The SSH bastion's secrets, all three together; undefined: keep the stored ones (or none). */
  ssh?: SshSecrets | undefined;
}

export interface ValidatedSpec {
  settings: ConnectionSettings;
  credentials: CredentialInput;
}

export type ValidationMode =
  /**
   * Create or test an unsaved spec: credentials are required. `keyDecryption: false` (a first pass
   * over a request body, validated in full later) leaves an encrypted SSH key's decryption out.
   */
  | { kind: "new"; keyDecryption?: boolean }
  /** Update: absent credentials keep the stored ones. */
  | {
      kind: "update";
      hasStoredClientKey: boolean;
      /** Which SSH secrets are stored (from the stored settings), for a tunnel kept without them. */
      storedSsh?: SshSettings["stored"] | undefined;
    };

/**
 * Checks every field of a spec and applies defaults. Collects every problem, so the caller sees
 * all of them at once, and throws ValidationError with one reason per field.
 */
export function validateSpec(input: ConnectionSpecInput, mode: ValidationMode): ValidatedSpec {
  const v: FieldViolation[] = [];
  const bad = (field: string, description: string) => v.push({ field, description });

  const name = text(input.name, "name", LIMITS.nameChars, bad, true);
  if (name && !NAME.test(name)) {
    bad(
      "name",
      "must start with a letter or digit and contain only letters, digits, spaces, '.', '_' and '-'",
    );
  }

  let type = input.type ?? "";
  if (type === "") bad("type", `is required: one of ${ENGINE_IDS.join(", ")}`);
  else if (!isEngineId(type))
    bad("type", `unknown engine "${clip(type)}": expected one of ${ENGINE_IDS.join(", ")}`);
  if (!isEngineId(type)) type = "postgresql";

  const server = normalizeHost(input.server ?? "");
  if (input.server === undefined || input.server === "")
    bad("server", "is required: the database host name or IP address");
  else {
    const problem = hostProblem(server);
    if (problem) bad("server", problem);
  }

  const engine = ENGINES[type as keyof typeof ENGINES];
  const engineOptions = engineOptionsOf(input, engine.id, bad);
  // A named instance's port is looked up at connect time; 0 says so.
  const port = engineOptions.instanceName ? 0 : (input.port ?? engine.defaultPort);
  if (engineOptions.instanceName && input.port !== undefined && input.port !== 0)
    bad("port", "must not be set with instanceName: the SQL Server Browser tells the instance's port");
  else if (!engineOptions.instanceName) portCheck(port, "port", bad);

  const database = text(
    input.database,
    "database",
    LIMITS.databaseChars,
    bad,
    !(engine.id === "oracle" && engineOptions.oracleSid),
  );
  if (engine.id === "oracle" && engineOptions.oracleSid && database)
    bad(
      "oracleSid",
      "must not be set with database (the service name): an Oracle target is one or the other",
    );

  const credentials: CredentialInput = {
    username: input.username,
    password: input.password,
    clientKey: input.clientKey === "" ? undefined : input.clientKey,
  };
  if (mode.kind === "new") {
    if (input.username === undefined || input.username === "") bad("username", "is required");
    if (input.password === undefined) bad("password", 'is required (send "" for a user without a password)');
  }
  if (credentials.username !== undefined)
    text(credentials.username, "username", LIMITS.usernameChars, bad, true);
  if (credentials.password !== undefined) {
    if (credentials.password.length > LIMITS.passwordChars)
      bad("password", `must be at most ${LIMITS.passwordChars} characters`);
    if (credentials.password.includes("\0")) bad("password", "must not contain NUL characters");
  }

  const sslMode = resolveSslMode(input.useSsl, input.sslMode, engine.defaultSslMode, bad);
  if (!engine.sslModes.includes(sslMode))
    bad(
      "sslMode",
      `"${sslMode}" is not available for ${engine.label} (allowed: ${engine.sslModes.join(", ")})${engine.sslModeNote ? `: ${engine.sslModeNote}` : ""}`,
    );
  if (engineOptions.strictEncryption && sslMode !== "verify-full")
    bad("strictEncryption", "needs sslMode verify-full: TDS 8.0 always verifies the server certificate");
  const caCertificate = pem(input.caCertificate, "caCertificate", bad, certificateProblem);
  const clientCertificate = pem(input.clientCertificate, "clientCertificate", bad, certificateProblem);
  if (credentials.clientKey !== undefined) pem(credentials.clientKey, "clientKey", bad, privateKeyProblem);
  const hasClientKey =
    credentials.clientKey !== undefined || (mode.kind === "update" && mode.hasStoredClientKey);
  if (clientCertificate && !hasClientKey) bad("clientKey", "is required with clientCertificate");
  if (credentials.clientKey !== undefined && !clientCertificate)
    bad("clientCertificate", "is required with clientKey");
  if (clientCertificate && sslMode === "disable")
    bad("sslMode", "must not be disable when a client certificate is set");
  if (engine.id === "oracle") {
    if (database && !/^[A-Za-z0-9][A-Za-z0-9._$#-]*$/.test(database))
      bad("database", "must be an Oracle service name: letters, digits, '.', '_', '$', '#' and '-'");
    // oracledb's thin mode loads the CA from a wallet that must also hold a private key.
    if (caCertificate && !clientCertificate)
      bad(
        "caCertificate",
        "needs clientCertificate and clientKey for Oracle (oracledb thin mode reads the CA from a wallet that holds a key); or leave it empty and add the CA to the system store of Berth's host (NODE_EXTRA_CA_CERTS)",
      );
  }
  const tlsServerName = input.tlsServerName ?? "";
  if (tlsServerName) {
    const problem = hostProblem(tlsServerName);
    if (problem) bad("tlsServerName", problem);
    else if (!engine.supportsTlsServerName)
      bad("tlsServerName", `is not supported for ${engine.label}: connect by a name the certificate carries`);
  }

  const pool = poolSettings(input, bad);
  const replicas = replicaList(input.replicas, type as keyof typeof ENGINES, { server, port }, bad);
  const description = text(input.description, "description", LIMITS.descriptionChars, bad, false, true);
  const tunnel = sshOf(input.ssh, mode.kind === "update" ? mode.storedSsh : undefined, engine.id, bad, {
    decrypt: mode.kind === "update" || mode.keyDecryption !== false,
  });
  if (tunnel.secrets) credentials.ssh = tunnel.secrets;

  if (v.length > 0) throw new ValidationError(v, "The connection is invalid");
  return {
    settings: {
      name,
      type: type as ConnectionSettings["type"],
      server,
      port,
      database,
      sslMode,
      caCertificate,
      clientCertificate,
      tlsServerName,
      engineOptions,
      pool,
      replicas,
      description,
      ...(tunnel.ssh ? { ssh: tunnel.ssh } : {}),
    },
    credentials,
  };
}

type Bad = (field: string, description: string) => void;

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

function text(
  value: string | undefined,
  field: string,
  max: number,
  bad: Bad,
  required: boolean,
  multiline = false,
): string {
  const s = value ?? "";
  if (s === "") {
    if (required) bad(field, "is required");
    return s;
  }
  if (s.length > max) bad(field, `must be at most ${max} characters (got ${s.length})`);
  else if (!multiline && CONTROL.test(s)) bad(field, "must not contain control characters");
  else if (multiline && s.includes("\0")) bad(field, "must not contain NUL characters");
  else if (!multiline && s.trim() !== s) bad(field, "must not start or end with white space");
  return s;
}

function portCheck(port: number, field: string, bad: Bad): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    bad(field, `must be an integer from 1 to 65535 (got ${port})`);
}

function resolveSslMode(
  useSsl: boolean | undefined,
  sslMode: string | undefined,
  engineDefault: SslModeId,
  bad: Bad,
): SslModeId {
  if (sslMode !== undefined && sslMode !== "") {
    if (!(SSL_MODES as readonly string[]).includes(sslMode)) {
      bad("sslMode", `unknown mode "${clip(sslMode)}": expected one of ${SSL_MODES.join(", ")}`);
      return "verify-full";
    }
    const mode = sslMode as SslModeId;
    // The same rule Berth answers with: useSsl is true for every mode but disable (prefer tries
    // TLS first), so a connection read back and sent again is never refused for its own useSsl.
    if (useSsl === true && mode === "disable")
      bad(
        "useSsl",
        `contradicts sslMode "disable" (useSsl: true needs prefer, require, verify-ca or verify-full)`,
      );
    if (useSsl === false && mode !== "disable")
      bad("useSsl", `contradicts sslMode "${mode}" (useSsl: false goes only with disable)`);
    return mode;
  }
  // Without a mode: useSsl true asks for the safe choice; nothing said means the engine's default
  // (libpq's prefer for PostgreSQL and MySQL, the driver's own for SQL Server and Oracle).
  if (useSsl === true) return "verify-full";
  if (useSsl === false) return "disable";
  return engineDefault;
}

/** The engine-specific fields: each is refused on an engine it means nothing to. */
function engineOptionsOf(input: ConnectionSpecInput, engine: EngineId, bad: Bad): EngineOptions {
  const only = (field: string, value: unknown, owner: EngineId, label: string) => {
    if (value !== undefined && value !== "" && value !== false && engine !== owner)
      bad(field, `applies only to ${label} connections`);
  };
  only("instanceName", input.instanceName, "sqlserver", "SQL Server");
  only("strictEncryption", input.strictEncryption, "sqlserver", "SQL Server");
  only("oracleSid", input.oracleSid, "oracle", "Oracle");
  const cleartextEngine = engine === "postgresql" || engine === "mysql";
  if (input.allowCleartextPassword === true && !cleartextEngine)
    bad("allowCleartextPassword", "applies only to PostgreSQL and MySQL connections");
  const instanceName =
    engine === "sqlserver" ? text(input.instanceName, "instanceName", 128, bad, false) : "";
  if (instanceName && !/^[\p{L}\p{N}_$#-]+$/u.test(instanceName))
    bad("instanceName", "must be an instance name: letters, digits, '_', '$', '#' and '-'");
  const oracleSid = engine === "oracle" ? text(input.oracleSid, "oracleSid", 64, bad, false) : "";
  const mode = input.frontDoorPoolMode || "transaction";
  if (mode !== "transaction" && mode !== "session")
    bad("frontDoorPoolMode", "must be transaction or session");
  else if (mode === "session" && engine !== "postgresql")
    bad("frontDoorPoolMode", "applies only to PostgreSQL connections (the front door speaks PostgreSQL)");
  const maxReplicaLagMs = replicaLagOf(input.maxReplicaLagMs, engine, bad);
  if (oracleSid && !/^[A-Za-z][A-Za-z0-9_$#]*$/.test(oracleSid))
    bad("oracleSid", "must be an Oracle SID: a letter, then letters, digits, '_', '$' and '#'");
  return {
    instanceName,
    strictEncryption: engine === "sqlserver" && input.strictEncryption === true,
    oracleSid,
    allowCleartextPassword: cleartextEngine && input.allowCleartextPassword === true,
    frontDoorPoolMode: mode === "session" ? "session" : "transaction",
    maxReplicaLagMs,
  };
}

/** A day: a replica further behind than that is not one to bound reads by. */
const MAX_REPLICA_LAG_MS = 86_400_000;

function replicaLagOf(value: number | undefined, engine: EngineId, bad: Bad): number {
  if (value === undefined || value === 0) return 0;
  if (!Number.isInteger(value) || value < 0 || value > MAX_REPLICA_LAG_MS) {
    bad("maxReplicaLagMs", `must be an integer from 0 (no bound) to ${MAX_REPLICA_LAG_MS} milliseconds`);
    return 0;
  }
  if (engine !== "postgresql" && engine !== "mysql") {
    bad(
      "maxReplicaLagMs",
      "applies only to PostgreSQL and MariaDB connections (where replica lag is measured)",
    );
    return 0;
  }
  return value;
}

function pem(
  value: string | undefined,
  field: string,
  bad: Bad,
  problemOf: (pem: string) => string | undefined,
): string {
  const s = value ?? "";
  if (s === "") return s;
  if (s.length > LIMITS.pemChars) {
    bad(field, `must be at most ${LIMITS.pemChars} characters`);
    return s;
  }
  const problem = problemOf(s);
  if (problem) bad(field, problem);
  return s;
}

function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return "must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)";
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return "contains a certificate that cannot be parsed";
    }
  }
  return undefined;
}

function privateKeyProblem(pem: string): string | undefined {
  try {
    createPrivateKey(pem);
    return undefined;
  } catch {
    // Never echo the key or the parser's message, which may quote it.
    return "must be an unencrypted PEM private key";
  }
}

function poolSettings(input: ConnectionSpecInput, bad: Bad): PoolSettings {
  const maxPoolSize = input.maxPoolSize ?? POOL_DEFAULTS.maxPoolSize;
  if (!Number.isInteger(maxPoolSize) || maxPoolSize < 1 || maxPoolSize > LIMITS.maxPoolSize) {
    bad("maxPoolSize", `must be an integer from 1 to ${LIMITS.maxPoolSize} (got ${maxPoolSize})`);
  }
  const minPoolSize = input.minPoolSize ?? POOL_DEFAULTS.minPoolSize;
  if (!Number.isInteger(minPoolSize) || minPoolSize < 0 || minPoolSize > maxPoolSize) {
    bad("minPoolSize", `must be an integer from 0 to maxPoolSize (${maxPoolSize})`);
  }
  const ranged = (value: number | undefined, field: string, fallback: number, min: number, max: number) => {
    const n = value ?? fallback;
    if (!Number.isInteger(n) || n < min || n > max)
      bad(field, `must be an integer from ${min} to ${max} milliseconds`);
    return n;
  };
  return {
    maxPoolSize,
    minPoolSize,
    acquireTimeoutMs: ranged(
      input.acquireTimeoutMs,
      "acquireTimeoutMs",
      POOL_DEFAULTS.acquireTimeoutMs,
      LIMITS.acquireTimeoutMs.min,
      LIMITS.acquireTimeoutMs.max,
    ),
    idleTimeoutMs: ranged(
      input.idleTimeoutMs,
      "idleTimeoutMs",
      POOL_DEFAULTS.idleTimeoutMs,
      LIMITS.idleTimeoutMs.min,
      LIMITS.idleTimeoutMs.max,
    ),
    maxLifetimeMs: ranged(
      input.maxLifetimeMs,
      "maxLifetimeMs",
      POOL_DEFAULTS.maxLifetimeMs,
      0,
      LIMITS.maxLifetimeMs.max,
    ),
  };
}

function replicaList(
  replicas: ConnectionSpecInput["replicas"],
  type: keyof typeof ENGINES,
  primary: HostPort,
  bad: Bad,
): HostPort[] {
  if (!replicas) return [];
  if (replicas.length > LIMITS.replicas) {
    bad("replicas", `must list at most ${LIMITS.replicas} hosts`);
    return [];
  }
  const seen = new Set([`${primary.server.toLowerCase()}:${primary.port}`]);
  return replicas.map((r, i) => {
    const server = normalizeHost(r.server ?? "");
    const problem = hostProblem(server);
    if (problem) bad(`replicas[${i}].server`, problem);
    const port = r.port === undefined || r.port === 0 ? ENGINES[type].defaultPort : r.port;
    portCheck(port, `replicas[${i}].port`, bad);
    const key = `${server.toLowerCase()}:${port}`;
    if (!problem && seen.has(key)) bad(`replicas[${i}]`, `duplicates ${server}:${port}`);
    seen.add(key);
    return { server, port };
  });
}
