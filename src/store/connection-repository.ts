import type { NewConnectionRow, SealedConnectionRow } from "./schema.js";
import type { Db } from "./store.js";

/** Which rows a listing may show (the access policy decides; the store only filters). */
export type ListScope = { userId: string; googleEmail: string | null } | { connectionIds: readonly string[] };

export interface ListCursor {
  nameKey: string;
  id: string;
}

/**
 * What a read selects: every column but the placeholders of sealed settings, which hold no values
 * (schema.ts). Checked below to name every column of SealedConnectionRow.
 */
const STORED_COLUMNS = [
  "id",
  "name",
  "name_key",
  "type",
  "username_enc",
  "password_enc",
  "client_key_enc",
  "ssh_secrets_enc",
  "settings_enc",
  "created_by_id",
  "created_by_google_email",
  "created_at",
  "updated_at",
  "last_tested_at",
  "last_used_at",
  "status",
  "version",
] as const;
type Unselected = Exclude<keyof SealedConnectionRow, (typeof STORED_COLUMNS)[number]>;
const everyColumnSelected: [Unselected] extends [never] ? true : Unselected = true;
void everyColumnSelected;

/** Connection rows in and out of the store. No policy here: callers decide who may see what. */
export function connectionRepository(db: Db) {
  return {
    async insert(row: NewConnectionRow): Promise<void> {
      await db.insertInto("connections").values(row).execute();
    },

    async findById(id: string): Promise<SealedConnectionRow | undefined> {
      return db.selectFrom("connections").select(STORED_COLUMNS).where("id", "=", id).executeTakeFirst();
    },

    async idOfNameKey(nameKey: string): Promise<string | undefined> {
      const r = await db
        .selectFrom("connections")
        .select("id")
        .where("name_key", "=", nameKey)
        .executeTakeFirst();
      return r?.id;
    },

    /** A page in (name, id) order; `createdById` limits it to one creator's connections. */
    async list(opts: {
      limit: number;
      after?: ListCursor | undefined;
      visibleTo?: ListScope | undefined;
    }): Promise<SealedConnectionRow[]> {
      let q = db.selectFrom("connections").select(STORED_COLUMNS);
      const who = opts.visibleTo;
      if (who && "connectionIds" in who) {
        q = q.where("id", "in", who.connectionIds.length > 0 ? [...who.connectionIds] : [""]);
      } else if (who) {
        // Only connections with a grant for this user (or their Google address).
        q = q.where("id", "in", (eb) =>
          eb
            .selectFrom("connection_access")
            .select("connection_id")
            .where((w) =>
              who.googleEmail
                ? w.or([w("user_id", "=", who.userId), w("google_email", "=", who.googleEmail.toLowerCase())])
                : w("user_id", "=", who.userId),
            ),
        );
      }
      const after = opts.after;
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb("name_key", ">", after.nameKey),
            eb.and([eb("name_key", "=", after.nameKey), eb("id", ">", after.id)]),
          ]),
        );
      }
      return q.orderBy("name_key").orderBy("id").limit(opts.limit).execute();
    },

    /** Writes `patch` only if the row is still at `version`; returns whether it did. */
    async updateIfVersion(id: string, version: number, patch: Partial<NewConnectionRow>): Promise<boolean> {
      const r = await db
        .updateTable("connections")
        .set({ ...patch, version: version + 1 })
        .where("id", "=", id)
        .where("version", "=", version)
        .executeTakeFirst();
      return r.numUpdatedRows > 0n;
    },

    async deleteIfVersion(id: string, version: number): Promise<boolean> {
      const r = await db
        .deleteFrom("connections")
        .where("id", "=", id)
        .where("version", "=", version)
        .executeTakeFirst();
      return r.numDeletedRows > 0n;
    },

    /** Status changes do not bump the version: they are observations, not edits. */
    async setStatus(id: string, status: string, lastTestedAt: string | undefined): Promise<void> {
      await db
        .updateTable("connections")
        .set(lastTestedAt ? { status, last_tested_at: lastTestedAt } : { status })
        .where("id", "=", id)
        .execute();
    },

    /** A check that says nothing of the status (a validate that passed) still counts as checked. */
    async markChecked(id: string, at: string): Promise<void> {
      await db.updateTable("connections").set({ last_tested_at: at }).where("id", "=", id).execute();
    },

    /** `resultEnc`: the CheckResult sealed by the caller (connections/sealed-settings.ts). */
    async recordCheck(check: {
      connectionId: string;
      kind: "test" | "validate";
      ok: boolean;
      resultEnc: string;
      checkedAt: string;
      checkedById: string;
    }): Promise<void> {
      await db
        .insertInto("connection_checks")
        .values({
          connection_id: check.connectionId,
          kind: check.kind,
          ok: check.ok ? 1 : 0,
          result_json: "",
          result_enc: check.resultEnc,
          checked_at: check.checkedAt,
          checked_by_id: check.checkedById,
        })
        .execute();
    },

    /** The newest check's sealed result (null: recorded before 0009 and not sealed yet). */
    async lastCheck(connectionId: string, kind: "test" | "validate"): Promise<string | null | undefined> {
      const r = await db
        .selectFrom("connection_checks")
        .select("result_enc")
        .where("connection_id", "=", connectionId)
        .where("kind", "=", kind)
        .orderBy("id", "desc")
        .limit(1)
        .executeTakeFirst();
      return r?.result_enc;
    },
  };
}

export type ConnectionRepository = ReturnType<typeof connectionRepository>;
