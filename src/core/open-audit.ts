import { type AuditLog, createAuditLog } from "../audit/audit-log.js";
import { openAuditExport } from "../audit/export.js";
import type { KeySet } from "../crypto/key-set.js";
import type { Logger } from "../observability/logger.js";
import type { Db } from "../store/store.js";
import type { CoreSettings } from "./core-settings.js";

/**
 * The audit log, keyed by the key provider, with checkpoints and export when configured (tests may
 * leave them out: no checkpoint file, no copy).
 */
export function openAudit(db: Db, keys: KeySet, settings: CoreSettings, log: Logger): AuditLog {
  const onError = (err: unknown, what = "audit export") =>
    log.warn({ error: (err as Error).message }, `${what} failed`);
  const a = settings.audit;
  return createAuditLog(db, {
    keys,
    checkpoints: a
      ? { file: a.checkpointFile, everyEvents: a.checkpointEvery, intervalMs: a.checkpointIntervalMs }
      : undefined,
    export: openAuditExport(a?.export, onError),
    onError,
  });
}
