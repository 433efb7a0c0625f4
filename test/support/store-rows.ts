import type { Db } from "../../src/store/store.js";

/** A bare connection row, for tests that need one to exist (service tokens name connections). */
export async function insertTestConnection(
  db: Db,
  createdById: string,
  now: Date,
  id = "00000000-0000-4000-8000-000000000001",
): Promise<string> {
  await db
    .insertInto("connections")
    .values({
      id,
      name: `c-${id.slice(-6)}`,
      name_key: `c-${id.slice(-6)}`,
      type: "postgresql",
      server: "127.0.0.1",
      port: 5432,
      database: "test",
      username_enc: "",
      password_enc: "",
      client_key_enc: null,
      ssl_mode: "prefer",
      ca_certificate: "",
      client_certificate: "",
      tls_server_name: "",
      engine_options: "{}",
      max_pool_size: 1,
      min_pool_size: 0,
      acquire_timeout_ms: 1_000,
      idle_timeout_ms: 1_000,
      max_lifetime_ms: 60_000,
      replicas: "[]",
      description: "",
      created_by_id: createdById,
      created_by_google_email: null,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      last_tested_at: null,
      last_used_at: null,
      status: "untested",
      version: 1,
    })
    .execute();
  return id;
}
