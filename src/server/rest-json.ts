import { type DescMessage, fromJson, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { type FieldViolation, ValidationError } from "../errors/berth-error.js";
import type { ConnectionAccess } from "../gen/berth/v1/access_service_pb.js";
import type { ServiceToken } from "../gen/berth/v1/token_service_pb.js";
import type { Connection, User } from "../gen/berth/v1/types_pb.js";
import { ACCESS_LEVEL_NAMES } from "../services/access-service.js";
import { ENGINE_NAMES, nameOf, SSL_MODE_NAMES, STATUS_NAMES } from "../services/mapping.js";

// Also the errors module's (a failed check's stages), so it lives below both.
export { checkResultToJson } from "../errors/check-result-json.js";

/**
 * REST bodies are the RFC's data model in camelCase, with enums spelled as the RFC spells them
 * ("postgresql", "verify-full", "healthy"). These functions translate between that and protobuf.
 */

export const ENUM_FIELDS: Record<string, Record<string, number>> = {
  type: ENGINE_NAMES,
  sslMode: SSL_MODE_NAMES,
  accessLevel: ACCESS_LEVEL_NAMES,
};

/**
 * A REST JSON object → a protobuf message. Each field is converted on its own so that every field
 * with the wrong type, an unknown name or an unknown enum value gets its own reason; `alsoCheck`
 * then adds the domain's reasons for the fields that did convert, so one answer lists them all.
 */
export function messageFromRestJson<Desc extends DescMessage>(
  schema: Desc,
  body: Record<string, unknown>,
  alsoCheck?: (partial: MessageShape<Desc>) => void,
): MessageShape<Desc> {
  const violations: FieldViolation[] = [];
  const good: Record<string, JsonValue> = {};
  for (const [field, raw] of Object.entries(body)) {
    if (raw === null || raw === undefined) continue;
    let value = raw as JsonValue;
    const table = ENUM_FIELDS[field];
    if (table && schema.fields.some((f) => f.jsonName === field)) {
      if (typeof raw !== "string" || !Object.hasOwn(table, raw)) {
        violations.push({ field, description: `must be one of ${Object.keys(table).join(", ")}` });
        continue;
      }
      value = table[raw]!;
    }
    try {
      fromJson(schema, { [field]: value });
      good[field] = value;
    } catch (err) {
      violations.push({ field: fieldOfJsonError(err, schema), description: describeJsonError(err) });
    }
  }
  const message = fromJson(schema, good);
  if (violations.length === 0) return message;
  if (alsoCheck) {
    try {
      alsoCheck(message);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const reported = new Set(violations.map((v) => v.field));
      violations.push(...err.violations.filter((v) => !reported.has(v.field)));
    }
  }
  throw new ValidationError(violations);
}

function fieldOfJsonError(err: unknown, schema: DescMessage): string {
  const m = /field (?:[\w.]+\.)?(\w+)(?: from JSON)?/.exec((err as Error).message ?? "");
  const unknownKey = /key "([^"]+)" is unknown/.exec((err as Error).message ?? "");
  if (unknownKey) return unknownKey[1]!;
  const f = m ? schema.fields.find((x) => x.name === m[1] || x.jsonName === m[1]) : undefined;
  return f?.jsonName ?? m?.[1] ?? "body";
}

function describeJsonError(err: unknown): string {
  const msg = (err as Error).message ?? "";
  if (/is unknown/.test(msg)) return "is not a known field";
  if (/invalid uint32|invalid int32|out of range|expected integer|invalid.*number/i.test(msg))
    return "must be a non-negative integer in range";
  return "has the wrong type for this field";
}

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);

export function connectionToJson(c: Connection) {
  return {
    id: c.id,
    name: c.name,
    type: nameOf(ENGINE_NAMES, c.type) ?? "unspecified",
    server: c.server,
    port: c.port,
    database: c.database,
    useSsl: c.useSsl,
    sslMode: nameOf(SSL_MODE_NAMES, c.sslMode) ?? "unspecified",
    caCertificate: c.caCertificate || null,
    clientCertificate: c.clientCertificate || null,
    hasClientKey: c.hasClientKey,
    tlsServerName: c.tlsServerName || null,
    instanceName: c.instanceName || null,
    strictEncryption: c.strictEncryption,
    oracleSid: c.oracleSid || null,
    allowCleartextPassword: c.allowCleartextPassword,
    frontDoorPoolMode: c.frontDoorPoolMode || "transaction",
    maxReplicaLagMs: c.maxReplicaLagMs,
    // The bastion, never its secrets: only whether each is stored.
    ssh: c.ssh
      ? {
          host: c.ssh.host,
          port: c.ssh.port,
          user: c.ssh.user,
          hostKey: c.ssh.hostKey || null,
          hasPrivateKey: c.ssh.hasPrivateKey,
          hasPassphrase: c.ssh.hasPassphrase,
          hasPassword: c.ssh.hasPassword,
        }
      : null,
    maxPoolSize: c.maxPoolSize,
    minPoolSize: c.minPoolSize,
    acquireTimeoutMs: c.acquireTimeoutMs,
    idleTimeoutMs: c.idleTimeoutMs,
    maxLifetimeMs: c.maxLifetimeMs,
    replicas: c.replicas.map((r) => ({ server: r.server, port: r.port })),
    description: c.description,
    createdById: c.createdById,
    createdByGoogleEmail: c.createdByGoogleEmail ?? null,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    lastTestedAt: iso(c.lastTestedAt),
    status: nameOf(STATUS_NAMES, c.status) ?? "unspecified",
    version: c.version,
  };
}

export function accessToJson(a: ConnectionAccess) {
  return {
    connectionId: a.connectionId,
    userId: a.userId ?? null,
    // The grantee's user name (lists only); null for a grant to a Google address.
    username: a.username || null,
    googleEmail: a.googleEmail ?? null,
    accessLevel: nameOf(ACCESS_LEVEL_NAMES, a.accessLevel) ?? "unspecified",
    assignedAt: iso(a.assignedAt),
  };
}

export function serviceTokenToJson(t: ServiceToken) {
  return {
    id: t.id,
    name: t.name,
    connectionIds: t.connectionIds,
    accessLevel: nameOf(ACCESS_LEVEL_NAMES, t.accessLevel) ?? "unspecified",
    createdAt: iso(t.createdAt),
    expiresAt: iso(t.expiresAt),
    revokedAt: iso(t.revokedAt),
  };
}

export function userToJson(u: User | undefined) {
  if (!u) return null;
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    googleEmail: u.googleEmail ?? null,
    createdAt: iso(u.createdAt),
  };
}

export { iso as timestampToJson };
