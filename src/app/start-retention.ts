import { AuditCutRefused } from "../audit/cut-check.js";
import { applyRetention, markPoolsInUse, scheduleRetention } from "../audit/retention.js";
import type { Membership } from "../cluster/membership.js";
import type { Config } from "../config/config.js";
import type { Core } from "../core.js";
import type { Logger } from "../observability/logger.js";
import type { Store } from "../store/store.js";

/**
 * Audit, checks and deleted connections past their retention, pruned on a schedule — by the one
 * instance holding the "retention" duty, which also runs a pass each time it takes the duty over.
 */
export function startRetention(
  config: Config,
  store: Store,
  core: Core,
  log: Logger,
  membership: Membership,
): () => void {
  let tick = () => {};
  membership.duty("retention", () => tick());
  const stop = scheduleRetention(
    async () => {
      // On every instance, before the holder's pass: the pools open here are use.
      await markPoolsInUse(
        store.db,
        core.dataPlane.pools.all().map((p) => p.connectionId),
      );
      if (!membership.holds("retention")) return;
      const r = await applyRetention(
        store.db,
        core.audit,
        config.retention,
        new Date(),
        (id) => core.dataPlane.pools.poolsOf(id).length > 0,
      );
      if (r.checks + r.auditEvents + r.connections.length > 0) log.info({ ...r }, "retention applied");
    },
    (err) => {
      if (err instanceof AuditCutRefused) {
        // The events it would have removed are not the chain Berth wrote: tampering, as Verify finds it.
        core.dataPlane.metrics.securityEvent("audit_chain_broken");
        log.error({ error: err.message, seq: err.seq }, "retention refused: the audit chain is broken");
      } else log.warn({ error: (err as Error).message }, "retention pass failed");
    },
    (run) => {
      tick = run;
    },
  );
  return stop;
}
