import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { AuditLog } from "../audit/audit-log.js";
import { type BundleDeps, exportBundle } from "../connections/bundle-export.js";
import { type ImportReport, importBundle } from "../connections/bundle-import.js";
import {
  type BundleService,
  type ImportBundleResponse,
  ImportBundleResponseSchema,
} from "../gen/berth/v1/bundle_service_pb.js";
import { requestInfoKey } from "../observability/request-info.js";
import { ACCESS_LEVEL_NAMES } from "./access-service.js";
import { principalOf } from "./context.js";

export interface BundleServiceDeps extends BundleDeps {
  audit: AuditLog;
  /** BERTH_REQUIRE_TLS, for the import's rule check (the test enforces it too). */
  requireTls?: boolean | undefined;
}

/**
 * BundleService: export and import of encrypted connection bundles. The interceptor records each
 * call; every connection that leaves in a bundle or arrives from one is recorded here as well, by id.
 */
export function createBundleService(deps: BundleServiceDeps): ServiceImpl<typeof BundleService> {
  async function record(ctx: HandlerContext, action: string, target: string, reason: string) {
    const p = principalOf(ctx);
    const info = ctx.values.get(requestInfoKey);
    await deps.audit.append({
      actorId: p.userId,
      actorName: p.username,
      source: info.peer,
      transport: info.transport,
      action,
      target,
      outcome: "ok",
      reason,
      requestId: info.requestId,
    });
  }

  return {
    async exportBundle(req, ctx) {
      const out = await exportBundle(
        deps,
        principalOf(ctx),
        { connectionIds: req.connectionIds, allAdministered: req.allAdministered },
        req.passphrase,
      );
      for (const id of out.connectionIds)
        await record(
          ctx,
          "bundle.export",
          id,
          `exported with credentials in a bundle of ${out.connectionIds.length}`,
        );
      return { bundle: out.bundle, connections: out.connectionIds.length, grants: out.grants };
    },
    async importBundle(req, ctx) {
      const report = await importBundle(deps, principalOf(ctx), {
        bundle: Buffer.from(req.bundle),
        passphrase: req.passphrase,
        dryRun: req.dryRun,
        timeoutMs: req.timeoutMs,
        requireTls: deps.requireTls,
      });
      if (report.applied)
        for (const c of report.connections) {
          await record(
            ctx,
            "bundle.import",
            c.id,
            `imported "${c.name}" from a bundle by ${report.exportedBy}`,
          );
          // The import writes these grants itself, not through GrantAccess: each is recorded here.
          // (A grant to the importer is not written: they own what they import.)
          const self = principalOf(ctx).username;
          for (const g of c.grants.filter((g) => g.applied && !(g.kind === "user" && g.principal === self)))
            await record(
              ctx,
              "bundle.import.grant",
              c.id,
              `granted ${g.level} to ${g.kind} ${g.principal} on "${c.name}" (from a bundle)`,
            );
        }
      return importResponse(report);
    },
  };
}

function importResponse(r: ImportReport): ImportBundleResponse {
  return create(ImportBundleResponseSchema, {
    applied: r.applied,
    dryRun: r.dryRun,
    ok: r.ok,
    exportedAt: r.exportedAt,
    exportedBy: r.exportedBy,
    connections: r.connections.map((c) => ({
      name: c.name,
      type: c.type,
      outcome: c.outcome,
      message: c.message,
      id: c.id,
      ...(c.test ? { test: c.test } : {}),
      grants: c.grants.map((g) => ({
        principalKind: g.kind,
        principal: g.principal,
        accessLevel: ACCESS_LEVEL_NAMES[g.level],
        applied: g.applied,
        skippedReason: g.skippedReason,
      })),
    })),
  });
}
