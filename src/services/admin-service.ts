import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { requireGlobalAdmin } from "../access/guards.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { InstanceView } from "../cluster/membership.js";
import type { KeySet } from "../crypto/key-set.js";
import { rewrapSecrets, type SecretProblemView, secretInventory } from "../crypto/rewrap.js";
import { ValidationError } from "../errors/berth-error.js";
import {
  type AdminService,
  type GetKeyStatusResponse,
  GetKeyStatusResponseSchema,
  type SecretProblem,
  SecretProblemSchema,
} from "../gen/berth/v1/admin_service_pb.js";
import { requestInfoKey } from "../observability/request-info.js";
import type { Db } from "../store/store.js";
import { principalOf } from "./context.js";

const problemToProto = (p: SecretProblemView): SecretProblem => create(SecretProblemSchema, p);

/** Where ListInstances reads the instances from (the running Berth's membership). */
export interface InstanceDirectory {
  list(): Promise<InstanceView[]>;
}

/** AdminService: key status, rotation, rewrap and retirement, and the instances, for global admins. */
export function createAdminService(deps: {
  db: Db;
  keys: KeySet;
  audit: AuditLog;
  /** Without it (a core with no listeners, in tests) no instance is listed. */
  instances?: InstanceDirectory;
}): ServiceImpl<typeof AdminService> {
  const requireAdmin = (ctx: HandlerContext) =>
    requireGlobalAdmin(principalOf(ctx), "Keys are managed by global admins");
  const status = async (): Promise<GetKeyStatusResponse> => {
    // The inventory re-reads keys another instance changed; the status after it is as fresh.
    const inventory = await secretInventory(deps.db, deps.keys);
    const key = await deps.keys.status();
    return create(GetKeyStatusResponseSchema, {
      provider: key.provider,
      keyName: key.keyName,
      latestVersion: key.latestVersion,
      minDecryptionVersion: key.minDecryptionVersion,
      rotatable: key.rotatable,
      versions: inventory.versions,
      stale: inventory.stale.map(problemToProto),
      totalSecrets: inventory.total,
      currentSecrets: inventory.current,
    });
  };
  return {
    async listInstances(_req, ctx) {
      requireGlobalAdmin(principalOf(ctx), "Instances are listed for global admins");
      const views = (await deps.instances?.list()) ?? [];
      return {
        instances: views.map((v) => ({
          ...v,
          pgPort: v.pgPort ?? 0,
          startedAt: timestampFromDate(v.startedAt),
          lastHeartbeatAt: timestampFromDate(v.lastHeartbeatAt),
        })),
      };
    },
    async getKeyStatus(_req, ctx) {
      requireAdmin(ctx);
      return status();
    },
    async rotateKey(_req, ctx) {
      requireAdmin(ctx);
      const newVersion = await deps.keys.rotate();
      return { newVersion, status: await status() };
    },
    async *rewrapSecrets(req, ctx) {
      const p = requireAdmin(ctx);
      if (req.batchSize > 1000) throw ValidationError.field("batchSize", "must be at most 1000");
      let last: { rewrapped: number; failures: number; finished: boolean } | undefined;
      for await (const progress of rewrapSecrets(deps.db, deps.keys, {
        batchSize: req.batchSize || 100,
        maxSecrets: req.maxSecrets,
        signal: ctx.signal,
      })) {
        last = {
          rewrapped: progress.rewrapped,
          failures: progress.failures.length,
          finished: progress.finished,
        };
        yield { ...progress, failures: progress.failures.map(problemToProto) };
      }
      // The interceptor records streams only when they fail; a completed run is recorded here.
      const info = ctx.values.get(requestInfoKey);
      await deps.audit.append({
        actorId: p.userId,
        actorName: p.username,
        source: info.peer,
        transport: info.transport,
        action: "berth.v1.AdminService/RewrapSecrets",
        target: "",
        outcome: last && last.failures > 0 ? "failed" : "ok",
        reason: last
          ? `rewrapped ${last.rewrapped}, ${last.failures} failed${last.finished ? "" : ", stopped at max_secrets"}`
          : "",
        requestId: info.requestId,
      });
    },
    async retireKeyVersions(req, ctx) {
      requireAdmin(ctx);
      await deps.keys.retire(req.minVersion);
      return { status: await status() };
    },
  };
}
