import type { KeyProvider } from "../crypto/key-provider.js";
import type { Db } from "../store/store.js";
import { settingsFromRow } from "./row-mapping.js";
import { createSettingsSeal } from "./sealed-settings.js";

export interface SealReport {
  /** Connections whose settings were sealed by this pass. */
  connections: number;
  /** Check results sealed by this pass. */
  checks: number;
  /** Connections whose clear settings could not be read (left as they are; they answer an error). */
  unreadable: string[];
}

/**
 * Seals what was written before migration 0009 — connections whose settings are in clear columns
 * (settings_enc NULL), check results in clear (result_enc NULL) — and blanks the clear copies. The
 * migration could not: it has no keys. Idempotent: only NULL rows are read, and each write is
 * compare-and-swap on the row still being unsealed and unchanged, so two instances starting at
 * once, or a pass stopped half-way, leave every row either sealed or for the next pass.
 */
export async function sealClearRows(db: Db, keys: KeyProvider, batchSize = 100): Promise<SealReport> {
  const seal = createSettingsSeal(keys);
  const report: SealReport = { connections: 0, checks: 0, unreadable: [] };
  let after = "";
  for (;;) {
    const rows = await db
      .selectFrom("connections")
      .selectAll()
      .where("settings_enc", "is", null)
      .where("id", ">", after)
      .orderBy("id")
      .limit(batchSize)
      .execute();
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    for (const row of rows) {
      let settings: ReturnType<typeof settingsFromRow>;
      try {
        // In the old form the clear columns hold the values.
        settings = settingsFromRow(row);
      } catch {
        report.unreadable.push(row.id);
        continue;
      }
      const r = await db
        .updateTable("connections")
        .set(await seal.seal(row.id, settings))
        .where("id", "=", row.id)
        .where("settings_enc", "is", null)
        .where("version", "=", row.version)
        .executeTakeFirst();
      report.connections += Number(r.numUpdatedRows);
    }
  }
  let afterCheck = 0;
  for (;;) {
    const rows = await db
      .selectFrom("connection_checks")
      .select(["id", "connection_id", "result_json"])
      .where("result_enc", "is", null)
      .where("id", ">", afterCheck)
      .orderBy("id")
      .limit(batchSize)
      .execute();
    if (rows.length === 0) break;
    afterCheck = rows[rows.length - 1]!.id;
    for (const row of rows) {
      const sealed = await keys.encrypt(row.result_json, {
        connectionId: row.connection_id,
        field: "check_result",
      });
      const r = await db
        .updateTable("connection_checks")
        .set({ result_enc: sealed, result_json: "" })
        .where("id", "=", row.id)
        .where("result_enc", "is", null)
        .executeTakeFirst();
      report.checks += Number(r.numUpdatedRows);
    }
  }
  return report;
}
