import type { Logger } from "../observability/logger.js";
import type { DataPlane } from "../pools/data-plane.js";
import type { AuditLog } from "./audit-log.js";

/*
 * What the data plane does on its own account that the audit log records: leases opening and
 * ending, hosts changing role or fenced, a replica refusing Berth. Kept beside the audit log, out of
 * the composition root.
 */

/**
 * Hosts seen to change role, and hosts fenced, go to the log (with the host) and to the audit log,
 * where hosts are named by their place in the configuration (hosts are sealed in the store).
 */
export function auditRoles(plane: DataPlane, audit: AuditLog, log: Logger): void {
  plane.health.on("role", (id, host, from) => {
    const where = `${host.server}:${host.port}`;
    log.info(
      { connectionId: id, host: where, slot: host.slot, from, to: host.role, timeline: host.timeline },
      "a host changed role",
    );
    const timeline = host.timeline ? ` (timeline ${host.timeline})` : "";
    const reason = `${host.slot}: ${from} -> ${host.role}${timeline}`;
    void audit.append(systemEvent("host.role_changed", id, reason)).catch(() => {});
  });
  plane.health.on("fenced", (id, host) => {
    log.error(
      { connectionId: id, host: `${host.server}:${host.port}`, slot: host.slot, timeline: host.timeline },
      "a host takes writes although another was promoted past it: fenced, Berth sends it nothing",
    );
    const reason = `${host.slot}: takes writes on timeline ${host.timeline}, another host was promoted past it`;
    void audit.append({ ...systemEvent("host.fenced", id, reason), outcome: "failed" }).catch(() => {});
  });
}

/**
 * Leases are audited when they open and end (their statements are not, one by one). An open that
 * cannot be recorded fails, and its session goes back to the pool; an end cannot be undone, so a
 * failure to record it is logged.
 */
export function auditLeases(plane: DataPlane, audit: AuditLog, log: Logger): void {
  plane.leases.on("endFailed", (lease, err) =>
    log.warn({ err, connectionId: lease.connectionId }, "an ended lease's session could not be returned"),
  );
  plane.leases.guardOpen((lease) =>
    audit.append({ ...systemEvent("lease.open", lease.connectionId, ""), actorId: lease.principalId }),
  );
  plane.leases.on("ended", (lease, reason) => {
    void audit
      .append({ ...systemEvent("lease.end", lease.connectionId, reason), actorId: lease.principalId })
      .catch((err) =>
        log.warn(
          { error: (err as Error).message, leaseConnection: lease.connectionId },
          "lease.end not audited",
        ),
      );
  });
}

/** An event Berth records on its own account (not a call): actor "berth" unless set. */
export function systemEvent(action: string, target: string, reason: string) {
  return {
    actorId: "berth",
    actorName: "",
    source: "",
    transport: "",
    action,
    target,
    outcome: "ok",
    reason,
    requestId: "",
  };
}

/** A replica refused Berth: a warning with the host, an audit event without it (hosts are sealed in the store). */
export function replicaRefusedReporter(log: Logger, audit: AuditLog) {
  return (id: string, host: string, reason: string) => {
    log.warn(
      { connectionId: id, replica: host, reason },
      "a read replica refused Berth; its reads fail instead of moving to another host",
    );
    void audit.append({ ...systemEvent("replica.refused", id, reason), outcome: "failed" }).catch(() => {});
  };
}
