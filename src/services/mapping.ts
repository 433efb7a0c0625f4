import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectionView } from "../connections/row-mapping.js";
import type {
  ConnectionSpecInput,
  ConnectionStatusId,
  EngineOptions,
  HostPort,
  SshSettings,
  SslModeId,
} from "../connections/settings.js";
import type { EngineId } from "../engines/index.js";
import { type PoolStats, PoolStatsSchema } from "../gen/berth/v1/connection_service_pb.js";
import {
  type Connection,
  ConnectionSchema,
  type ConnectionSpec,
  ConnectionStatus,
  Engine,
  type SshTunnel,
  SshTunnelSchema,
  SslMode,
  type User,
  UserSchema,
} from "../gen/berth/v1/types_pb.js";
import type { PoolStatsSnapshot } from "../pools/pool-types.js";
import type { UserRow } from "../store/schema.js";

/** Proto enums ↔ the RFC's lower-case names, in one table each. */
export const ENGINE_NAMES: Record<EngineId, Engine> = {
  postgresql: Engine.POSTGRESQL,
  mysql: Engine.MYSQL,
  sqlserver: Engine.SQLSERVER,
  oracle: Engine.ORACLE,
};

export const SSL_MODE_NAMES: Record<SslModeId, SslMode> = {
  disable: SslMode.DISABLE,
  prefer: SslMode.PREFER,
  require: SslMode.REQUIRE,
  "verify-ca": SslMode.VERIFY_CA,
  "verify-full": SslMode.VERIFY_FULL,
};

export const STATUS_NAMES: Record<ConnectionStatusId, ConnectionStatus> = {
  untested: ConnectionStatus.UNTESTED,
  healthy: ConnectionStatus.HEALTHY,
  degraded: ConnectionStatus.DEGRADED,
  unavailable: ConnectionStatus.UNAVAILABLE,
  failed: ConnectionStatus.FAILED,
};

export function nameOf<E extends number>(table: Record<string, E>, value: E): string | undefined {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return undefined;
}

/** ConnectionSpec → the domain's input. Unset enums and absent optionals become undefined. */
export function specFromProto(spec: ConnectionSpec | undefined): ConnectionSpecInput {
  if (!spec) return {};
  return {
    name: spec.name,
    type:
      spec.type === Engine.UNSPECIFIED
        ? undefined
        : (nameOf(ENGINE_NAMES, spec.type) ?? `unknown(${spec.type})`),
    server: spec.server,
    port: spec.port,
    database: spec.database,
    username: spec.username,
    password: spec.password,
    useSsl: spec.useSsl,
    sslMode:
      spec.sslMode === SslMode.UNSPECIFIED
        ? undefined
        : (nameOf(SSL_MODE_NAMES, spec.sslMode) ?? `unknown(${spec.sslMode})`),
    caCertificate: spec.caCertificate,
    clientCertificate: spec.clientCertificate,
    clientKey: spec.clientKey,
    tlsServerName: spec.tlsServerName,
    instanceName: spec.instanceName,
    strictEncryption: spec.strictEncryption,
    oracleSid: spec.oracleSid,
    allowCleartextPassword: spec.allowCleartextPassword,
    frontDoorPoolMode: spec.frontDoorPoolMode,
    maxReplicaLagMs: spec.maxReplicaLagMs,
    maxPoolSize: spec.maxPoolSize,
    minPoolSize: spec.minPoolSize,
    acquireTimeoutMs: spec.acquireTimeoutMs,
    idleTimeoutMs: spec.idleTimeoutMs,
    maxLifetimeMs: spec.maxLifetimeMs,
    replicas: spec.replicas.map((r) => ({ server: r.server, port: r.port })),
    description: spec.description,
    ...(spec.ssh
      ? {
          ssh: {
            host: spec.ssh.host,
            port: spec.ssh.port,
            user: spec.ssh.user,
            privateKey: spec.ssh.privateKey,
            passphrase: spec.ssh.passphrase,
            password: spec.ssh.password,
            hostKey: spec.ssh.hostKey,
          },
        }
      : {}),
  };
}

/** The opened row's engine_options JSON also carries the SSH tunnel (see row-mapping.ts). */
function engineOptionsOf(json: string): Partial<EngineOptions> & { ssh?: SshTunnel } {
  const o = JSON.parse(json) as Partial<EngineOptions> & { ssh?: SshSettings };
  return {
    ...(o.ssh
      ? {
          ssh: create(SshTunnelSchema, {
            host: o.ssh.host,
            port: o.ssh.port,
            user: o.ssh.user,
            hostKey: o.ssh.hostKey,
            hasPrivateKey: o.ssh.stored.privateKey,
            hasPassphrase: o.ssh.stored.passphrase,
            hasPassword: o.ssh.stored.password,
          }),
        }
      : {}),
    instanceName: o.instanceName ?? "",
    strictEncryption: o.strictEncryption ?? false,
    oracleSid: o.oracleSid ?? "",
    allowCleartextPassword: o.allowCleartextPassword ?? false,
    frontDoorPoolMode: o.frontDoorPoolMode ?? "transaction",
    maxReplicaLagMs: o.maxReplicaLagMs ?? 0,
  };
}

export function connectionToProto(c: ConnectionView): Connection {
  return create(ConnectionSchema, {
    id: c.id,
    name: c.name,
    type: ENGINE_NAMES[c.type as EngineId] ?? Engine.UNSPECIFIED,
    server: c.server,
    port: c.port,
    database: c.database,
    // TLS is used or attempted in every mode but disable (prefer uses it whenever the server offers it).
    useSsl: c.ssl_mode !== "disable",
    sslMode: SSL_MODE_NAMES[c.ssl_mode as SslModeId] ?? SslMode.UNSPECIFIED,
    caCertificate: c.ca_certificate,
    clientCertificate: c.client_certificate,
    tlsServerName: c.tls_server_name,
    hasClientKey: c.has_client_key,
    maxPoolSize: c.max_pool_size,
    minPoolSize: c.min_pool_size,
    acquireTimeoutMs: c.acquire_timeout_ms,
    idleTimeoutMs: c.idle_timeout_ms,
    maxLifetimeMs: c.max_lifetime_ms,
    replicas: (JSON.parse(c.replicas) as HostPort[]).map((r) => ({ server: r.server, port: r.port })),
    description: c.description,
    createdById: c.created_by_id,
    ...(c.created_by_google_email ? { createdByGoogleEmail: c.created_by_google_email } : {}),
    createdAt: timestampFromDate(new Date(c.created_at)),
    updatedAt: timestampFromDate(new Date(c.updated_at)),
    ...(c.last_tested_at ? { lastTestedAt: timestampFromDate(new Date(c.last_tested_at)) } : {}),
    status: STATUS_NAMES[c.status as ConnectionStatusId] ?? ConnectionStatus.UNSPECIFIED,
    version: c.version,
    ...engineOptionsOf(c.engine_options),
  });
}

export function userToProto(
  u: Pick<UserRow, "id" | "username" | "role" | "google_email" | "created_at">,
): User {
  return create(UserSchema, {
    id: u.id,
    username: u.username,
    role: u.role,
    ...(u.google_email ? { googleEmail: u.google_email } : {}),
    createdAt: timestampFromDate(new Date(u.created_at)),
  });
}

export function poolStatsMessage(s: PoolStatsSnapshot): PoolStats {
  return create(PoolStatsSchema, {
    size: s.size,
    idle: s.idle,
    inUse: s.inUse,
    opening: s.opening,
    waiting: s.waiting,
    maxSize: s.maxSize,
    minSize: s.minSize,
    acquireWaitP95Ms: s.acquireWaitP95Ms,
    queryP95Ms: s.queryP95Ms,
    queriesLastMinute: s.queriesLastMinute,
  });
}
