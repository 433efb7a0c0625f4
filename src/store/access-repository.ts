import type { ConnectionAccessRow } from "./schema.js";
import type { Db } from "./store.js";

export interface Grantee {
  userId?: string | undefined;
  googleEmail?: string | undefined;
}

/** Grants in and out of the store. No policy here: the access manager decides who may change what. */
export function accessRepository(db: Db) {
  return {
    /** The grants that apply to a principal on one connection (by user id and by Google address). */
    async grantsFor(
      connectionId: string,
      userId: string,
      googleEmail: string | null,
    ): Promise<ConnectionAccessRow[]> {
      return db
        .selectFrom("connection_access")
        .selectAll()
        .where("connection_id", "=", connectionId)
        .where((eb) =>
          googleEmail
            ? eb.or([eb("user_id", "=", userId), eb("google_email", "=", googleEmail.toLowerCase())])
            : eb("user_id", "=", userId),
        )
        .execute();
    },

    /** With each grantee's user name (null for a grant to a Google address), for lists people read. */
    async list(connectionId: string): Promise<(ConnectionAccessRow & { username: string | null })[]> {
      return db
        .selectFrom("connection_access")
        .leftJoin("users", "users.id", "connection_access.user_id")
        .selectAll("connection_access")
        .select("users.username")
        .where("connection_access.connection_id", "=", connectionId)
        .orderBy("connection_access.id")
        .execute();
    },

    async find(connectionId: string, grantee: Grantee): Promise<ConnectionAccessRow | undefined> {
      let q = db.selectFrom("connection_access").selectAll().where("connection_id", "=", connectionId);
      q = grantee.userId
        ? q.where("user_id", "=", grantee.userId)
        : q.where("google_email", "=", (grantee.googleEmail ?? "").toLowerCase());
      return q.executeTakeFirst();
    },

    async upsert(row: Omit<ConnectionAccessRow, "id">): Promise<void> {
      const existing = await this.find(row.connection_id, {
        userId: row.user_id ?? undefined,
        googleEmail: row.google_email ?? undefined,
      });
      if (existing) {
        await db
          .updateTable("connection_access")
          .set({
            access_level: row.access_level,
            assigned_at: row.assigned_at,
            assigned_by_id: row.assigned_by_id,
          })
          .where("id", "=", existing.id)
          .execute();
      } else {
        await db.insertInto("connection_access").values(row).execute();
      }
    },

    async remove(id: number): Promise<void> {
      await db.deleteFrom("connection_access").where("id", "=", id).execute();
    },

    async countOwners(connectionId: string): Promise<number> {
      const r = await db
        .selectFrom("connection_access")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("connection_id", "=", connectionId)
        .where("access_level", "=", "owner")
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
  };
}
