import type { Generated, Insertable, Selectable } from "kysely";

/**
 * Table shapes, in portable types only: text, integer, ISO-8601 UTC text for times, 0/1 for
 * booleans. The same migrations run on SQLite (embedded) and, later, PostgreSQL (shared mode).
 */
export interface UsersTable {
  id: string;
  username: string;
  password_hash: string | null;
  role: "admin" | "member";
  google_sub: string | null;
  google_email: string | null;
  created_at: string;
  disabled: number;
  /**
   * PostgreSQL-format SCRAM-SHA-256 verifier of the password (salt, iterations, StoredKey,
   * ServerKey; nothing that replays as the password), for the PostgreSQL front door. Null until made.
   */
  scram_verifier: string | null;
}

export interface SessionsTable {
  /** SHA-256 of the bearer token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/**
 * A connection. Only what Berth must read without a key stays in clear: id, name (unique, the
 * listing order), type, owner, times, status and version. Everything else is encrypted: the
 * credentials each in a column of their own, and every other setting together in `settings_enc`
 * (connections/sealed-settings.ts). The columns from `server` to `description` predate that: they
 * are NOT NULL, so once a row is sealed they hold placeholders ('' / 0 / '{}' / '[]'), never values.
 */
export interface ConnectionsTable {
  id: string;
  name: string;
  /** Lower-cased name, unique: "Orders" and "orders" would confuse people. */
  name_key: string;
  type: string;
  /** Placeholder once sealed, as are the columns below it up to description. */
  server: string;
  port: number;
  database: string;
  username_enc: string;
  password_enc: string;
  client_key_enc: string | null;
  ssl_mode: string;
  ca_certificate: string;
  client_certificate: string;
  tls_server_name: string;
  /** JSON of EngineOptions (SQL Server instance, strict encryption, Oracle SID). */
  engine_options: string;
  max_pool_size: number;
  min_pool_size: number;
  acquire_timeout_ms: number;
  idle_timeout_ms: number;
  max_lifetime_ms: number;
  /** JSON array of {server, port}. */
  replicas: string;
  description: string;
  /**
   * The key provider's envelope of every setting above from `server` on (JSON, bound to the
   * connection id and the field "settings"). NULL only for a row written before migration 0009,
   * until Berth seals it at start.
   */
  settings_enc: string | null;
  created_by_id: string;
  created_by_google_email: string | null;
  created_at: string;
  updated_at: string;
  last_tested_at: string | null;
  /** When a pool last opened for it (a proxy for "in use"), for the inactive-connection retention. */
  last_used_at: string | null;
  status: string;
  version: number;
}

export interface ConnectionChecksTable {
  id: Generated<number>;
  connection_id: string;
  kind: "test" | "validate";
  ok: number;
  /** '' once sealed: the result names the host it checked, so it is kept in result_enc. */
  result_json: string;
  /**
   * The CheckResult as protobuf JSON (no credentials by construction), in the key provider's
   * envelope bound to the connection id and the field "check_result". NULL only for a check
   * recorded before migration 0009, until Berth seals it at start.
   */
  result_enc: string | null;
  checked_at: string;
  checked_by_id: string;
}

export interface ConnectionAccessTable {
  id: Generated<number>;
  connection_id: string;
  user_id: string | null;
  google_email: string | null;
  access_level: string;
  assigned_at: string;
  assigned_by_id: string;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  at: string;
  actor_id: string;
  actor_name: string;
  source: string;
  transport: string;
  action: string;
  target: string;
  outcome: string;
  reason: string;
  request_id: string;
  prev_hash: string;
  hash: string;
  /** The key provider's MAC over seq and hash (`berth:vN:…` / `vault:vN:…`); "" for events from before keyed links. */
  mac: Generated<string>;
  /** The key version that signed the MAC (0 = unsigned). */
  key_version: Generated<number>;
}

/** Where the audit chain starts once old events were removed by retention: the last removed link. */
export interface AuditAnchorTable {
  id: number;
  seq: number;
  hash: string;
  at: string;
  /** The last removed event's MAC, so that the anchor itself is vouched for ("" = unsigned). */
  mac: Generated<string>;
}

export interface ServiceTokensTable {
  id: string;
  name: string;
  token_hash: string;
  /** JSON array of connection ids. */
  connection_ids: string;
  access_level: string;
  created_by_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** SCRAM-SHA-256 verifier of the token, as for users. Null until made. */
  scram_verifier: string | null;
}

/** A running Berth process on this store; the row goes on graceful stop or when its heartbeat is stale. */
export interface InstancesTable {
  /** A random UUID per process start. */
  id: string;
  version: string;
  /** The URL it announces. */
  address: string;
  /** Its PostgreSQL front door's port, when it has one. */
  pg_port: number | null;
  started_at: string;
  last_heartbeat_at: string;
  pools_held: number;
}

/** A duty that runs on one instance at a time; it moves when expires_at passes without renewal. */
export interface DutyLeasesTable {
  name: string;
  holder: string;
  expires_at: string;
}

/** A connection's role memory (pools/roles.ts): what a restart must not forget. */
export interface ConnectionRolesTable {
  connection_id: string;
  /** The highest timeline a primary of the connection was seen on (MariaDB: Berth's own count). */
  max_timeline: number;
  /**
   * JSON: a host's slot ("server", "replicas[0]"...; never its address, which is sealed) → the
   * number Berth gave it when it first saw it writable (MariaDB).
   */
  writable_since: string;
  updated_at: string;
}

/**
 * One version of the keyring shared by the instances (local key provider, shared mode): its data
 * key wrapped by BERTH_MASTER_KEY (AES-256-GCM, `wrap1:…`). Null for a version whose data key is
 * the master key itself (a store whose secrets were written before the keyring moved into it).
 */
export interface KeyVersionsTable {
  version: number;
  wrapped_key: string | null;
  created_at: string;
}

/** The keyring's one state row (id 1): the version that encrypts and the lowest that decrypts. */
export interface KeyringStateTable {
  id: number;
  primary_version: number;
  min_decryption_version: number;
  updated_at: string;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  connections: ConnectionsTable;
  connection_checks: ConnectionChecksTable;
  connection_access: ConnectionAccessTable;
  audit_events: AuditEventsTable;
  audit_anchor: AuditAnchorTable;
  service_tokens: ServiceTokensTable;
  instances: InstancesTable;
  duty_leases: DutyLeasesTable;
  connection_roles: ConnectionRolesTable;
  key_versions: KeyVersionsTable;
  keyring_state: KeyringStateTable;
}

export type UserRow = Selectable<UsersTable>;
/** The columns whose values live in `settings_enc`; in the table they are placeholders. */
export type SealedSettingsColumn =
  | "server"
  | "port"
  | "database"
  | "ssl_mode"
  | "ca_certificate"
  | "client_certificate"
  | "tls_server_name"
  | "engine_options"
  | "max_pool_size"
  | "min_pool_size"
  | "acquire_timeout_ms"
  | "idle_timeout_ms"
  | "max_lifetime_ms"
  | "replicas"
  | "description";

/** A connection as the store holds it: its settings still sealed (the placeholders are not read). */
export type SealedConnectionRow = Omit<Selectable<ConnectionsTable>, SealedSettingsColumn>;

/**
 * A connection with its settings opened (connections/sealed-settings.ts): what the domain works
 * with. Never straight from SQL, where these columns are placeholders.
 */
export type ConnectionRow = Omit<SealedConnectionRow, "settings_enc"> &
  Pick<Selectable<ConnectionsTable>, SealedSettingsColumn>;
export type NewConnectionRow = Insertable<ConnectionsTable>;
export type ConnectionAccessRow = Selectable<ConnectionAccessTable>;
