import {
  type ColumnDefinitionBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresAdapter,
  sql,
} from "kysely";

/**
 * The one dialect difference in the schema: a generated integer key. SQLite's `integer primary key
 * autoincrement` (what shipped, so SQLite's DDL stays byte for byte the same) is an identity
 * column on PostgreSQL. "By default", not "always": the audit log writes its seq itself.
 */
function generatedKey(db: Kysely<unknown>) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  return (c: ColumnDefinitionBuilder) =>
    postgres ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement();
}

/**
 * Migrations live in code (not files read at run time) so that the built `dist/` is self-contained.
 * Names sort in order of application; never edit one that has shipped, add the next.
 */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("users")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("username", "text", (c) => c.notNull().unique())
        .addColumn("password_hash", "text")
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("google_sub", "text", (c) => c.unique())
        .addColumn("google_email", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("disabled", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable("sessions")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .execute();
      await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();
      await db.schema
        .createTable("connections")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("name_key", "text", (c) => c.notNull().unique())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("server", "text", (c) => c.notNull())
        .addColumn("port", "integer", (c) => c.notNull())
        .addColumn("database", "text", (c) => c.notNull())
        .addColumn("username_enc", "text", (c) => c.notNull())
        .addColumn("password_enc", "text", (c) => c.notNull())
        .addColumn("client_key_enc", "text")
        .addColumn("ssl_mode", "text", (c) => c.notNull())
        .addColumn("ca_certificate", "text", (c) => c.notNull())
        .addColumn("client_certificate", "text", (c) => c.notNull())
        .addColumn("tls_server_name", "text", (c) => c.notNull())
        .addColumn("max_pool_size", "integer", (c) => c.notNull())
        .addColumn("min_pool_size", "integer", (c) => c.notNull())
        .addColumn("acquire_timeout_ms", "integer", (c) => c.notNull())
        .addColumn("idle_timeout_ms", "integer", (c) => c.notNull())
        .addColumn("max_lifetime_ms", "integer", (c) => c.notNull())
        .addColumn("replicas", "text", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("created_by_id", "text", (c) => c.notNull())
        .addColumn("created_by_google_email", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .addColumn("last_tested_at", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("connection_checks")
        .addColumn("id", "integer", generatedKey(db))
        .addColumn("connection_id", "text", (c) =>
          c.notNull().references("connections.id").onDelete("cascade"),
        )
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("ok", "integer", (c) => c.notNull())
        .addColumn("result_json", "text", (c) => c.notNull())
        .addColumn("checked_at", "text", (c) => c.notNull())
        .addColumn("checked_by_id", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("connection_checks_by_connection")
        .on("connection_checks")
        .columns(["connection_id", "id"])
        .execute();
    },
  },
  "0002_connection_access": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("connection_access")
        .addColumn("id", "integer", generatedKey(db))
        .addColumn("connection_id", "text", (c) =>
          c.notNull().references("connections.id").onDelete("cascade"),
        )
        // Exactly one of user_id and google_email: a grant names a user, or a Google address that
        // takes effect when that Google user signs in.
        .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
        .addColumn("google_email", "text")
        .addColumn("access_level", "text", (c) => c.notNull())
        .addColumn("assigned_at", "text", (c) => c.notNull())
        .addColumn("assigned_by_id", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("connection_access_user")
        .unique()
        .on("connection_access")
        .columns(["connection_id", "user_id"])
        .execute();
      await db.schema
        .createIndex("connection_access_email")
        .unique()
        .on("connection_access")
        .columns(["connection_id", "google_email"])
        .execute();
      await db.schema
        .createIndex("connection_access_by_user")
        .on("connection_access")
        .column("user_id")
        .execute();
      // Connections created before grants existed: their creator owns them.
      await sql`insert into connection_access (connection_id, user_id, access_level, assigned_at, assigned_by_id)
                select id, created_by_id, 'owner', created_at, created_by_id from connections`.execute(db);
    },
  },
  "0003_audit_events": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("audit_events")
        .addColumn("seq", "integer", generatedKey(db))
        .addColumn("at", "text", (c) => c.notNull())
        .addColumn("actor_id", "text", (c) => c.notNull())
        .addColumn("actor_name", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("transport", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("request_id", "text", (c) => c.notNull())
        .addColumn("prev_hash", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("audit_by_target").on("audit_events").columns(["target", "seq"]).execute();
      await db.schema.createIndex("audit_by_actor").on("audit_events").columns(["actor_id", "seq"]).execute();
    },
  },
  "0004_service_tokens": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("service_tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        // SHA-256 of the token; the token itself is shown once and never stored.
        .addColumn("token_hash", "text", (c) => c.notNull().unique())
        .addColumn("connection_ids", "text", (c) => c.notNull())
        .addColumn("access_level", "text", (c) => c.notNull())
        .addColumn("created_by_id", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .execute();
    },
  },
  "0005_engine_options": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable("connections")
        .addColumn("engine_options", "text", (c) => c.notNull().defaultTo("{}"))
        .execute();
    },
  },
  "0006_retention": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("connections").addColumn("last_used_at", "text").execute();
      await db.schema
        .createTable("audit_anchor")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("connection_checks_by_time")
        .on("connection_checks")
        .columns(["checked_at"])
        .execute();
    },
  },
  "0007_audit_macs": {
    async up(db: Kysely<unknown>) {
      // Existing events keep "" (unsigned): they verify by hash alone, and only before the first signed one.
      await db.schema
        .alterTable("audit_events")
        .addColumn("mac", "text", (c) => c.notNull().defaultTo(""))
        .execute();
      await db.schema
        .alterTable("audit_events")
        .addColumn("key_version", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable("audit_anchor")
        .addColumn("mac", "text", (c) => c.notNull().defaultTo(""))
        .execute();
    },
  },
  "0008_scram_verifiers": {
    async up(db: Kysely<unknown>) {
      // SCRAM-SHA-256 verifiers for the PostgreSQL front door. Null until the secret is next known
      // (set, or used in cleartext): the stored hashes cannot make one.
      await db.schema.alterTable("users").addColumn("scram_verifier", "text").execute();
      await db.schema.alterTable("service_tokens").addColumn("scram_verifier", "text").execute();
    },
  },
  "0009_connection_fields_at_rest": {
    async up(db: Kysely<unknown>) {
      // Nullable: a migration has no keys, so it cannot encrypt what is there. NULL marks a row
      // still in the old, clear form; Berth seals those at start (connections/seal-clear-rows.ts)
      // and blanks their clear columns, which stay (NOT NULL) as placeholders.
      await db.schema.alterTable("connections").addColumn("settings_enc", "text").execute();
      await db.schema.alterTable("connection_checks").addColumn("result_enc", "text").execute();
    },
  },
  "0010_instances": {
    async up(db: Kysely<unknown>) {
      // Who is running on this store (shared mode): each instance's row, kept fresh by its heartbeat.
      await db.schema
        .createTable("instances")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("pg_port", "integer")
        .addColumn("started_at", "text", (c) => c.notNull())
        .addColumn("last_heartbeat_at", "text", (c) => c.notNull())
        .addColumn("pools_held", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      // Duties that must run on one instance at a time: the holder renews the lease with its heartbeat.
      await db.schema
        .createTable("duty_leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .execute();
    },
  },
  "0011_role_memory": {
    async up(db: Kysely<unknown>) {
      // What the health checks learned about a connection's roles that must outlive Berth: the
      // highest timeline a primary was seen on, and (MariaDB) when each host was first seen
      // writable, so that a restarted Berth still fences an old primary that comes back behind.
      await db.schema
        .createTable("connection_roles")
        .addColumn("connection_id", "text", (c) =>
          c.primaryKey().references("connections.id").onDelete("cascade"),
        )
        .addColumn("max_timeline", "integer", (c) => c.notNull())
        .addColumn("writable_since", "text", (c) => c.notNull().defaultTo("{}"))
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
    },
  },
  "0012_stored_keyring": {
    async up(db: Kysely<unknown>) {
      // Shared mode's local keyring: each data key wrapped by BERTH_MASTER_KEY, never in clear.
      await db.schema
        .createTable("key_versions")
        .addColumn("version", "integer", (c) => c.primaryKey())
        .addColumn("wrapped_key", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      // One row (id 1): which version encrypts, and below which versions no longer decrypt.
      await db.schema
        .createTable("keyring_state")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("primary_version", "integer", (c) => c.notNull())
        .addColumn("min_decryption_version", "integer", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    throw new Error(
      `Store migration ${failed?.migrationName ?? ""} failed: ${(error as Error)?.message ?? "unknown"}`,
      {
        cause: error,
      },
    );
  }
}
