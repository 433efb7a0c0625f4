import type { RetentionPolicy } from "../config/audit-settings.js";
import type { Db } from "../store/store.js";
import { AuditCutRefused, type AuditLog } from "./audit-log.js";

export type { RetentionPolicy };

export interface RetentionReport {
  checks: number;
  auditEvents: number;
  connections: string[];
}

const DAY_MS = 86_400_000;

/**
 * One retention pass. Old check results go (each connection keeps its latest); old audit events go
 * from the head of the chain, and the last removed link becomes the chain's anchor in the same
 * transaction, so Verify still proves that nothing after it was touched; inactive connections go
 * with their grants and checks. Every pass that removed something is itself an audit event.
 */
export async function applyRetention(
  db: Db,
  audit: AuditLog,
  policy: RetentionPolicy,
  now: Date = new Date(),
  /** Whether a connection has an open pool on this instance: then it is in use, whatever the dates say. */
  inUse: (connectionId: string) => boolean = () => false,
): Promise<RetentionReport> {
  const before = (days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();
  const report: RetentionReport = { checks: 0, auditEvents: 0, connections: [] };

  if (policy.checksDays > 0) {
    const latest = db
      .selectFrom("connection_checks")
      .select((eb) => eb.fn.max("id").as("id"))
      .groupBy("connection_id");
    const r = await db
      .deleteFrom("connection_checks")
      .where("checked_at", "<", before(policy.checksDays))
      .where("id", "not in", latest)
      .executeTakeFirst();
    report.checks = Number(r.numDeletedRows);
  }

  if (policy.inactiveConnectionDays > 0) {
    const cutoff = before(policy.inactiveConnectionDays);
    const inactive = await db
      .selectFrom("connections")
      .select("id")
      .where("updated_at", "<", cutoff)
      .where((eb) => eb.or([eb("last_tested_at", "is", null), eb("last_tested_at", "<", cutoff)]))
      .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", cutoff)]))
      .execute();
    for (const { id } of inactive) {
      // last_used_at is written when a pool opens; a pool open for months is still use.
      if (inUse(id)) continue;
      // Grants and checks go with it (foreign keys cascade).
      await db.deleteFrom("connections").where("id", "=", id).execute();
      report.connections.push(id);
    }
  }

  // A refused cut removed nothing: the pass is still recorded (with why), then fails for the duty to log.
  let refused: AuditCutRefused | undefined;
  if (policy.auditDays > 0)
    report.auditEvents = await audit.prune(before(policy.auditDays)).catch((err) => {
      if (!(err instanceof AuditCutRefused)) throw err;
      refused = err;
      return 0;
    });

  if (refused || report.checks + report.auditEvents + report.connections.length > 0) {
    await audit.append({
      actorId: "berth",
      actorName: "retention",
      source: "",
      transport: "internal",
      action: "retention.purge",
      target: "",
      outcome: refused ? "failed" : "ok",
      reason: `removed ${report.checks} check results older than ${policy.checksDays} days, ${report.auditEvents} audit events older than ${policy.auditDays} days, ${report.connections.length} connections inactive for ${policy.inactiveConnectionDays} days${report.connections.length ? ` (${report.connections.join(", ")})` : ""}${refused ? `; ${refused.message}` : ""}`,
      requestId: "",
    });
  }
  if (refused) throw refused;
  return report;
}

/**
 * Records that the connections whose pools are open on this instance are in use. Every instance
 * does it daily (not only the retention duty's holder, which sees its own pools alone): a pool open
 * for months on another instance keeps its connection, whose last_used_at would otherwise stay
 * where the pool opened.
 */
export async function markPoolsInUse(db: Db, connectionIds: readonly string[], now: Date = new Date()) {
  const ids = [...new Set(connectionIds)];
  for (let at = 0; at < ids.length; at += 500)
    await db
      .updateTable("connections")
      .set({ last_used_at: now.toISOString() })
      .where("id", "in", ids.slice(at, at + 500))
      .execute();
}

/** Runs retention at start and then daily; returns a stop function. Failures are logged, not fatal. */
export function scheduleRetention(
  run: () => Promise<unknown>,
  onError: (err: unknown) => void,
  /** Receives a way to run a pass now, off schedule (when this instance takes the duty over). */
  exposeTick?: (tick: () => void) => void,
): () => void {
  const tick = () => void run().catch(onError);
  exposeTick?.(tick);
  tick();
  const timer = setInterval(tick, DAY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
