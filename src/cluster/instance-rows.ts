import type { InstancesTable } from "../store/schema.js";
import type { Db } from "../store/store.js";

export type InstanceRow = InstancesTable;

/** Inserts this instance's row (or replaces it, after it was dropped as stale during a long pause). */
export async function registerInstance(db: Db, row: InstanceRow): Promise<void> {
  await db.deleteFrom("instances").where("id", "=", row.id).execute();
  await db.insertInto("instances").values(row).execute();
}

/** Refreshes the heartbeat and the pools held; false when the row is gone (dropped as stale). */
export async function heartbeatInstance(db: Db, id: string, at: Date, poolsHeld: number): Promise<boolean> {
  const r = await db
    .updateTable("instances")
    .set({ last_heartbeat_at: at.toISOString(), pools_held: poolsHeld })
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Drops instances whose last heartbeat is older than `before`: they are gone. Returns their ids. */
export async function pruneStaleInstances(db: Db, before: Date): Promise<string[]> {
  const rows = await db
    .deleteFrom("instances")
    .where("last_heartbeat_at", "<", before.toISOString())
    .returning("id")
    .execute();
  return rows.map((r) => r.id);
}

export async function deregisterInstance(db: Db, id: string): Promise<void> {
  await db.deleteFrom("instances").where("id", "=", id).execute();
}

/** Every registered instance, oldest first. */
export function listInstanceRows(db: Db): Promise<InstanceRow[]> {
  return db.selectFrom("instances").selectAll().orderBy("started_at").orderBy("id").execute();
}
