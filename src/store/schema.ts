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

export interface ConnectionsTable {
  id: string;
  name: string;
  /** Lower-cased name, unique: "Orders" and "orders" would confuse people. */
  name_key: string;
  type: string;
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
  /** The CheckResult as protobuf JSON; contains no secrets by construction. */
  result_json: string;
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

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  connections: ConnectionsTable;
  connection_checks: ConnectionChecksTable;
  connection_access: ConnectionAccessTable;
  audit_events: AuditEventsTable;
  audit_anchor: AuditAnchorTable;
  service_tokens: ServiceTokensTable;
}

export type UserRow = Selectable<UsersTable>;
export type ConnectionRow = Selectable<ConnectionsTable>;
export type NewConnectionRow = Insertable<ConnectionsTable>;
export type ConnectionAccessRow = Selectable<ConnectionAccessTable>;
