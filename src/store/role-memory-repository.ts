import { sql } from "kysely";
import type { Db } from "./store.js";

/** A connection's durable role memory, as pools/roles.ts keeps it (DurableRoleMemory). */
export interface StoredRoleMemory {
  maxTimeline: number;
  writableSince: Record<string, number>;
}

/** Only whole numbers per host survive a read: the column is Berth's, but the file may not be. */
function parseWritableSince(json: string): Record<string, number> {
  try {
    const parsed: unknown = JSON.parse(json);
    if (!parsed || typeof parsed !== "object") return {};
    return Object.fromEntries(
      Object.entries(parsed).filter((e): e is [string, number] => Number.isSafeInteger(e[1]) && e[1] > 0),
    );
  } catch {
    return {};
  }
}

export async function loadRoleMemory(db: Db, connectionId: string): Promise<StoredRoleMemory | undefined> {
  const row = await db
    .selectFrom("connection_roles")
    .select(["max_timeline", "writable_since"])
    .where("connection_id", "=", connectionId)
    .executeTakeFirst();
  if (!row) return undefined;
  return { maxTimeline: Number(row.max_timeline), writableSince: parseWritableSince(row.writable_since) };
}

/**
 * Forgets it: the connection now points elsewhere, or an admin reset its pool after rebuilding the
 * cluster (a fresh initdb starts again at timeline 1, which the old memory would fence for good).
 */
export async function forgetRoleMemory(db: Db, connectionId: string): Promise<void> {
  await db.deleteFrom("connection_roles").where("connection_id", "=", connectionId).execute();
}

/**
 * Saves it; the highest timeline never goes down, even when instances sharing the store race
 * (each saves what it saw: the highest wins).
 */
export async function saveRoleMemory(db: Db, connectionId: string, memory: StoredRoleMemory): Promise<void> {
  const row = {
    connection_id: connectionId,
    max_timeline: memory.maxTimeline,
    writable_since: JSON.stringify(memory.writableSince),
    updated_at: new Date().toISOString(),
  };
  await db
    .insertInto("connection_roles")
    .values(row)
    .onConflict((oc) =>
      oc.column("connection_id").doUpdateSet({
        max_timeline: sql<number>`CASE WHEN connection_roles.max_timeline > excluded.max_timeline THEN connection_roles.max_timeline ELSE excluded.max_timeline END`,
        writable_since: row.writable_since,
        updated_at: row.updated_at,
      }),
    )
    .execute();
}
