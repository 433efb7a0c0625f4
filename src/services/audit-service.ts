import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuditLog } from "../audit/audit-log.js";
import { PermissionDeniedError, ValidationError } from "../errors/berth-error.js";
import type { AuditService } from "../gen/berth/v1/audit_service_pb.js";
import { principalOf } from "./context.js";

/** AuditService: list and verify, for global admins. */
export function createAuditService(deps: { audit: AuditLog }): ServiceImpl<typeof AuditService> {
  const requireAdmin = (role: string) => {
    if (role !== "admin") throw new PermissionDeniedError("The audit log is for global admins", "not_admin");
  };
  return {
    async listAuditEvents(req, ctx) {
      requireAdmin(principalOf(ctx).role);
      const size = req.pageSize || 100;
      if (size > 1000) throw ValidationError.field("pageSize", "must be at most 1000");
      const rows = await deps.audit.list({
        target: req.connectionId || undefined,
        actorId: req.actorId || undefined,
        since: req.since ? timestampDate(req.since).toISOString() : undefined,
        until: req.until ? timestampDate(req.until).toISOString() : undefined,
        afterSeq: Number(req.afterSeq) || undefined,
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
        })),
      };
    },
    async verifyAuditLog(_req, ctx) {
      requireAdmin(principalOf(ctx).role);
      const r = await deps.audit.verify();
      return {
        ok: r.ok,
        checked: BigInt(r.checked),
        firstBrokenSeq: BigInt(r.firstBrokenSeq ?? 0),
        problem: r.problem ?? "",
      };
    },
  };
}
