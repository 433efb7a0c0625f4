import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { isGlobalAdmin, requireGlobalAdmin } from "../access/guards.js";
import { type AccessLevel, atLeast } from "../access/levels.js";
import type { AuditAnchor, AuditLog } from "../audit/audit-log.js";
import { NotFoundError, PermissionDeniedError, ValidationError } from "../errors/berth-error.js";
import type { AuditService } from "../gen/berth/v1/audit_service_pb.js";
import type { Principal } from "../identity/principal.js";
import { principalOf } from "./context.js";

/**
 * AuditService: the whole log for global admins; one connection's events also for people who
 * administer that connection (admin or owner on it). Verify and the signed head are for global admins.
 */
export function createAuditService(deps: {
  audit: AuditLog;
  /** The principal's level on a connection; undefined when it does not exist for them. */
  levelOf?: (principal: Principal, connectionId: string) => Promise<AccessLevel | undefined>;
  /** Told when a Verify finds the chain broken (a security event on the metrics). */
  onChainBroken?: () => void;
}): ServiceImpl<typeof AuditService> {
  const mayRead = async (p: Principal, connectionId: string) => {
    if (isGlobalAdmin(p)) return;
    if (!connectionId || !deps.levelOf)
      throw new PermissionDeniedError(
        "The audit log is for global admins; a connection's admins may read its events (give connectionId)",
        "not_admin",
      );
    const level = await deps.levelOf(p, connectionId);
    if (!level) throw new NotFoundError("connection", connectionId);
    // People only: a service token reads no audit log, whatever its scope.
    if (p.kind !== "user" || !atLeast(level, "admin"))
      throw new PermissionDeniedError(
        "A connection's audit events are for its admins and owners (and global admins)",
        "insufficient_level",
      );
  };
  return {
    async listAuditEvents(req, ctx) {
      await mayRead(principalOf(ctx), req.connectionId);
      const size = req.pageSize || 100;
      if (size > 1000) throw ValidationError.field("pageSize", "must be at most 1000");
      // Outcomes are lower-case words (ok, denied, failed, cancelled, ...).
      if (req.outcome && !/^[a-z_]{1,32}$/.test(req.outcome))
        throw ValidationError.field("outcome", "must be an outcome such as ok, denied or failed");
      const rows = await deps.audit.list({
        target: req.connectionId || undefined,
        actorId: req.actorId || undefined,
        since: req.since ? timestampDate(req.since).toISOString() : undefined,
        until: req.until ? timestampDate(req.until).toISOString() : undefined,
        afterSeq: Number(req.afterSeq) || undefined,
        beforeSeq: Number(req.beforeSeq) || undefined,
        outcome: req.outcome || undefined,
        newestFirst: req.newestFirst,
        limit: size,
      });
      return {
        events: rows.map((r) => ({
          seq: BigInt(r.seq),
          at: timestampFromDate(new Date(r.at)),
          actorId: r.actor_id,
          actorName: r.actor_name,
          source: r.source,
          transport: r.transport,
          action: r.action,
          target: r.target,
          outcome: r.outcome,
          reason: r.reason,
          requestId: r.request_id,
          hash: r.hash,
          mac: r.mac,
          keyVersion: r.key_version,
        })),
      };
    },
    async verifyAuditLog(_req, ctx) {
      requireGlobalAdmin(principalOf(ctx), "The audit log is for global admins");
      const r = await deps.audit.verify();
      if (!r.ok) deps.onChainBroken?.();
      return {
        ok: r.ok,
        checked: BigInt(r.checked),
        firstBrokenSeq: BigInt(r.firstBrokenSeq ?? 0),
        problem: r.problem ?? "",
        signedBy: r.signedBy.map((v) => ({
          ...v,
          events: BigInt(v.events),
          firstSeq: BigInt(v.firstSeq),
          lastSeq: BigInt(v.lastSeq),
        })),
        unsigned: BigInt(r.unsigned),
        checkpointsChecked: BigInt(r.checkpointsChecked),
        anchor: r.anchor && anchorMessage(r.anchor),
        anchorProof: r.anchor?.proof ?? "",
      };
    },
    async getAuditHead(_req, ctx) {
      requireGlobalAdmin(principalOf(ctx), "The audit log is for global admins");
      const h = await deps.audit.head();
      return {
        seq: BigInt(h.seq),
        head: h.head,
        time: h.time,
        keyVersion: h.keyVersion,
        mac: h.mac,
        anchor: h.anchor && anchorMessage(h.anchor),
      };
    },
  };
}

const anchorMessage = (a: AuditAnchor) => ({ seq: BigInt(a.seq), hash: a.hash, time: a.time, mac: a.mac });
