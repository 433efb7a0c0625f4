import { z } from "zod";
import { ERROR_KINDS } from "../../errors/mapping.js";
import { ACCESS_LEVEL_NAMES } from "../../services/access-service.js";
import { ENGINE_NAMES, SSL_MODE_NAMES, STATUS_NAMES } from "../../services/mapping.js";

/**
 * The REST bodies Berth answers with, as zod schemas: each route's `reply`. The compiler checks the
 * routes' `response` against them, the OpenAPI document is generated from them (z.toJSONSchema),
 * and the contract test parses live answers with them (objects are strict: a field added to an
 * answer and not here fails that test).
 */

const names = (table: Record<string, number>) => z.enum([...Object.keys(table), "unspecified"]);
const time = z.iso.datetime();
const timeOrNull = time.nullable();
const uint = z.number().int().min(0);

export const EngineName = names(ENGINE_NAMES);
export const AccessLevelName = names(ACCESS_LEVEL_NAMES);
export const StatusName = names(STATUS_NAMES);

export const UserJson = z.strictObject({
  id: z.string(),
  username: z.string(),
  role: z.string(),
  googleEmail: z.string().nullable(),
  createdAt: timeOrNull,
});

export const ConnectionJson = z.strictObject({
  id: z.string(),
  name: z.string(),
  type: EngineName,
  server: z.string(),
  port: uint,
  database: z.string(),
  useSsl: z.boolean(),
  sslMode: names(SSL_MODE_NAMES),
  caCertificate: z.string().nullable(),
  clientCertificate: z.string().nullable(),
  hasClientKey: z.boolean(),
  tlsServerName: z.string().nullable(),
  instanceName: z.string().nullable(),
  strictEncryption: z.boolean(),
  oracleSid: z.string().nullable(),
  allowCleartextPassword: z.boolean(),
  frontDoorPoolMode: z.string(),
  maxReplicaLagMs: uint,
  maxPoolSize: uint,
  minPoolSize: uint,
  acquireTimeoutMs: uint,
  idleTimeoutMs: uint,
  maxLifetimeMs: uint,
  replicas: z.array(z.strictObject({ server: z.string(), port: uint })),
  /** The SSH bastion, null without a tunnel; its secrets are never returned, only whether they are stored. */
  ssh: z
    .strictObject({
      host: z.string(),
      port: uint,
      user: z.string(),
      hostKey: z.string().nullable(),
      hasPrivateKey: z.boolean(),
      hasPassphrase: z.boolean(),
      hasPassword: z.boolean(),
    })
    .nullable(),
  description: z.string(),
  createdById: z.string(),
  createdByGoogleEmail: z.string().nullable(),
  createdAt: timeOrNull,
  updatedAt: timeOrNull,
  lastTestedAt: timeOrNull,
  status: StatusName,
  version: uint,
});

export const CheckResultJson = z.strictObject({
  ok: z.boolean(),
  target: z.string(),
  serverVersion: z.string().nullable(),
  totalMs: z.number(),
  checkedAt: timeOrNull,
  stages: z.array(
    z.strictObject({
      stage: z.string(),
      outcome: z.string(),
      durationMs: z.number(),
      reason: z.string().optional(),
      errorCode: z.string().optional(),
      message: z.string().optional(),
      remedy: z.string().optional(),
      details: z.record(z.string(), z.string()).optional(),
    }),
  ),
});

export const PoolJson = z.strictObject({
  size: uint,
  idle: uint,
  inUse: uint,
  waiting: uint,
  maxSize: uint,
  minSize: uint,
  acquireWaitP95Ms: z.number(),
  queryP95Ms: z.number(),
  queriesLastMinute: uint,
  opening: uint,
});

/** What opening a new connection's pool did (CreateConnection with initializePool). */
export const PoolInitializationJson = z.strictObject({
  initialized: z.boolean(),
  pool: PoolJson.nullable(),
  error: z
    .strictObject({
      error: z.string(),
      message: z.string(),
      details: z.strictObject({
        reason: z.string(),
        current_size: uint.optional(),
        max_size: uint.optional(),
      }),
    })
    .nullable(),
});

const FrontDoorJson = z.strictObject({
  idle: uint,
  waiting: uint,
  active: uint,
  pinned: uint,
  clients: z.array(
    z.strictObject({
      username: z.string(),
      principalKind: z.string(),
      source: z.string(),
      state: z.string(),
      pinnedWhy: z.string().nullable(),
      connectedAt: timeOrNull,
      transactions: uint,
    }),
  ),
});

export const ConnectionStatusJson = z.strictObject({
  connectionId: z.string(),
  status: StatusName,
  lastTestedAt: timeOrNull,
  lastTest: CheckResultJson.nullable(),
  pool: PoolJson.nullable(),
  hosts: z.array(
    z.strictObject({
      server: z.string().optional(),
      port: uint.optional(),
      role: z.string(),
      status: StatusName,
      lastCheckedAt: timeOrNull,
      lastErrorReason: z.string().nullable(),
      lastLatencyMs: z.number(),
      configuredRole: z.string(),
      slot: z.string(),
      timeline: uint.nullable(),
      position: z.string().nullable(),
      replicaLagMs: z.number().nullable(),
      lagging: z.boolean(),
      fenced: z.boolean(),
      writer: z.boolean(),
      roleChangedAt: timeOrNull,
    }),
  ),
  noPrimary: z.boolean(),
  frontDoor: FrontDoorJson.nullable(),
});

export const AccessJson = z.strictObject({
  connectionId: z.string(),
  userId: z.string().nullable(),
  username: z.string().nullable(),
  googleEmail: z.string().nullable(),
  accessLevel: AccessLevelName,
  assignedAt: timeOrNull,
});

export const ServiceTokenJson = z.strictObject({
  id: z.string(),
  name: z.string(),
  connectionIds: z.array(z.string()),
  accessLevel: AccessLevelName,
  createdAt: timeOrNull,
  expiresAt: timeOrNull,
  revokedAt: timeOrNull,
});

export const SignedInJson = z.strictObject({
  token: z.string().describe("The bearer token: send it as `Authorization: Bearer <token>`"),
  expiresAt: timeOrNull,
  user: UserJson.nullable(),
});

const KeyVersionJson = z.strictObject({ provider: z.string(), version: uint, secrets: uint });

export const KeyStatusJson = z.strictObject({
  provider: z.string(),
  keyName: z.string(),
  latestVersion: uint,
  minDecryptionVersion: uint,
  rotatable: z.boolean(),
  totalSecrets: uint,
  currentSecrets: uint,
  versions: z.array(KeyVersionJson),
  stale: z.array(
    z.strictObject({
      connectionId: z.string(),
      field: z.string(),
      provider: z.string(),
      version: uint,
      reason: z.string(),
      message: z.string(),
    }),
  ),
});

export const AuditEventsJson = z.strictObject({
  events: z.array(
    z.strictObject({
      seq: uint,
      at: timeOrNull,
      actorId: z.string(),
      actorName: z.string(),
      source: z.string(),
      transport: z.string(),
      action: z.string(),
      target: z.string().nullable(),
      outcome: z.string(),
      reason: z.string().nullable(),
      requestId: z.string().nullable(),
      hash: z.string(),
      mac: z.string().nullable(),
      keyVersion: uint,
    }),
  ),
});

/** A retention cut: the chain starts after seq; mac signs "berth audit pruned|seq|hash|time". */
export const AuditAnchorJson = z.strictObject({
  seq: uint,
  hash: z.string(),
  time: z.string(),
  mac: z.string(),
});

export const AuditVerifyJson = z.strictObject({
  ok: z.boolean(),
  checked: uint,
  firstBrokenSeq: uint.nullable(),
  problem: z.string().nullable(),
  signedBy: z.array(z.strictObject({ provider: z.string(), version: uint, events: uint })),
  unsigned: uint,
  checkpointsChecked: uint,
  /** The retention anchor (null before any cut) and what proved it. */
  anchor: AuditAnchorJson.nullable(),
  anchorProof: z.enum(["checkpoint", "signature"]).nullable(),
});

export const AuditHeadJson = z.strictObject({
  seq: uint,
  head: z.string(),
  time: z.string(),
  keyVersion: uint,
  mac: z.string(),
  anchor: AuditAnchorJson.nullable(),
});

export const InstancesJson = z.strictObject({
  instances: z.array(
    z.strictObject({
      id: z.string(),
      version: z.string(),
      address: z.string(),
      pgPort: uint.nullable(),
      startedAt: timeOrNull,
      lastHeartbeatAt: timeOrNull,
      poolsHeld: uint,
      thisInstance: z.boolean(),
      duties: z.array(z.string()),
    }),
  ),
});

/** The RFC §9.3 error envelope (errors/mapping.ts toRestError). */
export const ErrorJson = z.object({
  error: z.enum(ERROR_KINDS).describe("The error's kind; `details.reason` says which case of it"),
  message: z.string(),
  details: z.looseObject({
    request_id: z.string(),
    reason: z.string().optional(),
    fields: z
      .record(z.string(), z.string())
      .optional()
      .describe("validation_failed: every field refused, with why"),
    retry_after_seconds: uint.optional().describe("rate_limited: also sent as Retry-After"),
    stages: CheckResultJson.shape.stages
      .optional()
      .describe("connection_operation_failed: the check's stages"),
  }),
});
