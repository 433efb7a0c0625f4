import { z } from "zod";
import {
  AdminService,
  type GetKeyStatusResponse,
  type ListInstancesResponse,
} from "../../gen/berth/v1/admin_service_pb.js";
import {
  type AuditAnchor,
  AuditService,
  type ListAuditEventsResponse,
} from "../../gen/berth/v1/audit_service_pb.js";
import { timestampToJson } from "../rest-json.js";
import { intParam, timestampParam } from "./params.js";
import { type RestRoute, route } from "./route.js";
import { AuditEventsJson, AuditHeadJson, AuditVerifyJson, InstancesJson, KeyStatusJson } from "./schemas.js";

const AD = AdminService.method;
const AU = AuditService.method;

function keyStatusToJson(r: GetKeyStatusResponse) {
  return {
    provider: r.provider,
    keyName: r.keyName,
    latestVersion: r.latestVersion,
    minDecryptionVersion: r.minDecryptionVersion,
    rotatable: r.rotatable,
    totalSecrets: r.totalSecrets,
    currentSecrets: r.currentSecrets,
    versions: r.versions.map((v) => ({ provider: v.provider, version: v.version, secrets: v.secrets })),
    stale: r.stale.map((p) => ({
      connectionId: p.connectionId,
      field: p.field,
      provider: p.provider,
      version: p.version,
      reason: p.reason,
      message: p.message,
    })),
  };
}

function auditEventsToJson(r: ListAuditEventsResponse) {
  return {
    events: r.events.map((e) => ({
      seq: Number(e.seq),
      at: timestampToJson(e.at),
      actorId: e.actorId,
      actorName: e.actorName,
      source: e.source,
      transport: e.transport,
      action: e.action,
      target: e.target || null,
      outcome: e.outcome,
      reason: e.reason || null,
      requestId: e.requestId || null,
      hash: e.hash,
      mac: e.mac || null,
      keyVersion: e.keyVersion,
    })),
  };
}

function instancesToJson(r: ListInstancesResponse) {
  return {
    instances: r.instances.map((i) => ({
      id: i.id,
      version: i.version,
      address: i.address,
      pgPort: i.pgPort || null,
      startedAt: timestampToJson(i.startedAt),
      lastHeartbeatAt: timestampToJson(i.lastHeartbeatAt),
      poolsHeld: i.poolsHeld,
      thisInstance: i.thisInstance,
      duties: i.duties,
    })),
  };
}

/** /api/admin/keys, /api/instances and /api/audit: keys, the instances running, the audit log. */
export const ADMIN_ROUTES: RestRoute[] = [
  route({
    verb: "GET",
    path: "/api/instances",
    method: AD.listInstances,
    reply: InstancesJson,
    request: () => ({}),
    response: (r) => ({ body: instancesToJson(r) }),
  }),
  route({
    verb: "GET",
    path: "/api/admin/keys",
    method: AD.getKeyStatus,
    reply: KeyStatusJson,
    request: () => ({}),
    response: (r) => ({ body: keyStatusToJson(r) }),
  }),
  route({
    verb: "POST",
    path: "/api/admin/keys/rotate",
    method: AD.rotateKey,
    body: z.strictObject({}),
    reply: z.strictObject({ newVersion: z.number().int().min(0), status: KeyStatusJson }),
    errors: ["failed_precondition", "unimplemented"],
    request: () => ({}),
    response: (r) => ({ body: { newVersion: r.newVersion, status: keyStatusToJson(r.status!) } }),
  }),
  route({
    verb: "POST",
    path: "/api/admin/keys/retire",
    method: AD.retireKeyVersions,
    body: z.strictObject({
      minVersion: z
        .int({ error: "must be a positive integer" })
        .min(1, { error: "must be a positive integer" })
        .max(0xffffffff, { error: "must be a positive integer" })
        .describe("The oldest key version still to decrypt with"),
    }),
    reply: KeyStatusJson,
    errors: ["failed_precondition", "unimplemented"],
    request: ({ body }) => ({ minVersion: body.minVersion }),
    response: (r) => ({ body: keyStatusToJson(r.status!) }),
  }),
  route({
    verb: "GET",
    path: "/api/audit",
    method: AU.listAuditEvents,
    reply: AuditEventsJson,
    request: ({ query }) => ({
      connectionId: query.get("connectionId") ?? "",
      actorId: query.get("actorId") ?? "",
      pageSize: intParam(query, "pageSize"),
      afterSeq: BigInt(intParam(query, "afterSeq")),
      beforeSeq: BigInt(intParam(query, "beforeSeq")),
      outcome: query.get("outcome") ?? "",
      newestFirst: query.get("newestFirst") === "true",
      ...(query.get("since") ? { since: timestampParam(query, "since") } : {}),
      ...(query.get("until") ? { until: timestampParam(query, "until") } : {}),
    }),
    response: (r) => ({ body: auditEventsToJson(r) }),
  }),
  route({
    verb: "POST",
    path: "/api/audit/verify",
    method: AU.verifyAuditLog,
    body: z.strictObject({}),
    reply: AuditVerifyJson,
    request: () => ({}),
    response: (r) => ({
      body: {
        ok: r.ok,
        checked: Number(r.checked),
        firstBrokenSeq: r.firstBrokenSeq ? Number(r.firstBrokenSeq) : null,
        problem: r.problem || null,
        signedBy: r.signedBy.map((v) => ({
          provider: v.provider,
          version: v.version,
          events: Number(v.events),
        })),
        unsigned: Number(r.unsigned),
        checkpointsChecked: Number(r.checkpointsChecked),
        anchor: anchorJson(r.anchor),
        anchorProof: proofJson(r.anchorProof),
      },
    }),
  }),
  route({
    verb: "GET",
    path: "/api/audit/head",
    method: AU.getAuditHead,
    reply: AuditHeadJson,
    request: () => ({}),
    response: (r) => ({
      body: {
        seq: Number(r.seq),
        head: r.head,
        time: r.time,
        keyVersion: r.keyVersion,
        mac: r.mac,
        anchor: anchorJson(r.anchor),
      },
    }),
  }),
];

const anchorJson = (a: AuditAnchor | undefined) =>
  a ? { seq: Number(a.seq), hash: a.hash, time: a.time, mac: a.mac } : null;

const proofJson = (p: string): "checkpoint" | "signature" | null =>
  p === "checkpoint" || p === "signature" ? p : null;
