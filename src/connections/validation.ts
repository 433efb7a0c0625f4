import { ENGINE_IDS, ENGINES, type EngineId, isEngineId } from "../engines/index.js";
import { type FieldViolation, ValidationError } from "../errors/berth-error.js";
import { databaseOf, oracleServiceNameCheck, portOf, replicaList, serverOf } from "./endpoint-validation.js";
import { engineOptionsOf } from "./engine-options-validation.js";
import { poolSettings } from "./pool-validation.js";
import type { ConnectionSettings, ConnectionSpecInput, SshSecrets, SshSettings } from "./settings.js";
import { type Bad, clip, LIMITS, text } from "./spec-fields.js";
import { sshOf } from "./ssh-validation.js";
import { oracleCaCheck, tlsOf, tlsServerNameOf } from "./tls-validation.js";

const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u;

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
 * all of them at once, and throws ValidationError with one reason per field. The parts are checked
 * in their own modules (endpoint, engine options, TLS, pool, SSH); the order they are called in
 * here is the order a caller reads the problems in.
 */
export function validateSpec(input: ConnectionSpecInput, mode: ValidationMode): ValidatedSpec {
  const v: FieldViolation[] = [];
  const bad: Bad = (field, description) => v.push({ field, description });

  const name = nameOf(input.name, bad);
  const type = engineIdOf(input.type, bad);
  const server = serverOf(input.server, bad);
  const engine = ENGINES[type];
  const engineOptions = engineOptionsOf(input, engine.id, bad);
  const port = portOf(input.port, engine, engineOptions, bad);
  const database = databaseOf(input.database, engine.id, engineOptions, bad);
  const credentials = credentialsOf(input, mode, bad);
  const tls = tlsOf(
    input,
    credentials.clientKey,
    mode.kind === "update" && mode.hasStoredClientKey,
    engine,
    engineOptions.strictEncryption,
    bad,
  );
  if (engine.id === "oracle") {
    oracleServiceNameCheck(database, bad);
    oracleCaCheck(tls, bad);
  }
  const tlsServerName = tlsServerNameOf(input.tlsServerName, engine, bad);

  const pool = poolSettings(input, bad);
  const replicas = replicaList(input.replicas, type, { server, port }, bad);
  const description = text(input.description, "description", LIMITS.descriptionChars, bad, false, true);
  const tunnel = sshOf(input.ssh, mode.kind === "update" ? mode.storedSsh : undefined, engine.id, bad, {
    decrypt: mode.kind === "update" || mode.keyDecryption !== false,
  });
  if (tunnel.secrets) credentials.ssh = tunnel.secrets;

  if (v.length > 0) throw new ValidationError(v, "The connection is invalid");
  return {
    settings: {
      name,
      type,
      server,
      port,
      database,
      sslMode: tls.sslMode,
      caCertificate: tls.caCertificate,
      clientCertificate: tls.clientCertificate,
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

function nameOf(value: string | undefined, bad: Bad): string {
  const name = text(value, "name", LIMITS.nameChars, bad, true);
  if (name && !NAME.test(name)) {
    bad(
      "name",
      "must start with a letter or digit and contain only letters, digits, spaces, '.', '_' and '-'",
    );
  }
  return name;
}

/** The engine; an unknown one is reported and PostgreSQL stands in, so the other fields are still checked. */
function engineIdOf(value: string | undefined, bad: Bad): EngineId {
  const type = value ?? "";
  if (type === "") bad("type", `is required: one of ${ENGINE_IDS.join(", ")}`);
  else if (!isEngineId(type))
    bad("type", `unknown engine "${clip(type)}": expected one of ${ENGINE_IDS.join(", ")}`);
  return isEngineId(type) ? type : "postgresql";
}

/** The secrets as sent: required for a new connection; on update, absent ones keep the stored ones. */
function credentialsOf(input: ConnectionSpecInput, mode: ValidationMode, bad: Bad): CredentialInput {
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
  return credentials;
}
