import type { EngineId } from "../engines/engine.js";
import type { ConnectionRow } from "../store/schema.js";
import type {
  ConnectionSettings,
  ConnectionSpecInput,
  EngineOptions,
  HostPort,
  SshSettings,
} from "./settings.js";
import { NO_ENGINE_OPTIONS } from "./settings.js";

/** A stored connection as the API may show it: the row without its ciphertexts. */
export type ConnectionView = Omit<
  ConnectionRow,
  "username_enc" | "password_enc" | "client_key_enc" | "ssh_secrets_enc" | "name_key"
> & {
  has_client_key: boolean;
};

/** Validated settings → the row's columns (credentials are encrypted elsewhere: credential-cipher.ts). */
export function settingsColumns(s: ConnectionSettings) {
  return {
    name: s.name,
    type: s.type,
    server: s.server,
    port: s.port,
    database: s.database,
    ssl_mode: s.sslMode,
    ca_certificate: s.caCertificate,
    client_certificate: s.clientCertificate,
    tls_server_name: s.tlsServerName,
    // The opened row's engine_options carries the SSH tunnel too (both are sealed in settings_enc;
    // this column of the row in memory is never written as such: see sealed-settings.ts).
    engine_options: JSON.stringify(s.ssh ? { ...s.engineOptions, ssh: s.ssh } : s.engineOptions),
    max_pool_size: s.pool.maxPoolSize,
    min_pool_size: s.pool.minPoolSize,
    acquire_timeout_ms: s.pool.acquireTimeoutMs,
    idle_timeout_ms: s.pool.idleTimeoutMs,
    max_lifetime_ms: s.pool.maxLifetimeMs,
    replicas: JSON.stringify(s.replicas),
    description: s.description,
  };
}

export function settingsFromRow(row: ConnectionRow): ConnectionSettings {
  const { ssh, ...engineOptions } = JSON.parse(row.engine_options) as Partial<EngineOptions> & {
    ssh?: SshSettings;
  };
  return {
    name: row.name,
    type: row.type as EngineId,
    server: row.server,
    port: row.port,
    database: row.database,
    sslMode: row.ssl_mode as ConnectionSettings["sslMode"],
    caCertificate: row.ca_certificate,
    clientCertificate: row.client_certificate,
    tlsServerName: row.tls_server_name,
    engineOptions: { ...NO_ENGINE_OPTIONS, ...engineOptions },
    pool: {
      maxPoolSize: row.max_pool_size,
      minPoolSize: row.min_pool_size,
      acquireTimeoutMs: row.acquire_timeout_ms,
      idleTimeoutMs: row.idle_timeout_ms,
      maxLifetimeMs: row.max_lifetime_ms,
    },
    replicas: JSON.parse(row.replicas) as HostPort[],
    description: row.description,
    ...(ssh ? { ssh } : {}),
  };
}

/** A stored row back in the shape a caller sends, so that validate can hold it to today's rules. */
export function inputFromRow(row: ConnectionRow): ConnectionSpecInput {
  const { engineOptions, pool, ssh, ...s } = settingsFromRow(row);
  // Flat, as a caller sends them: a nested engineOptions object would be ignored by validateSpec.
  return {
    ...s,
    ...engineOptions,
    ...pool,
    replicas: s.replicas.map((r) => ({ ...r })),
    ...(ssh ? { ssh: { host: ssh.host, port: ssh.port, user: ssh.user, hostKey: ssh.hostKey } } : {}),
  };
}

export function view(row: ConnectionRow): ConnectionView {
  const {
    username_enc: _u,
    password_enc: _p,
    client_key_enc,
    ssh_secrets_enc: _s,
    name_key: _n,
    ...rest
  } = row;
  return { ...rest, has_client_key: client_key_enc !== null };
}
