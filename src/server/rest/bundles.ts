import { MAX_BUNDLE_BYTES } from "../../connections/bundle-format.js";
import { ValidationError } from "../../errors/berth-error.js";
import { BundleService, type ImportBundleResponse } from "../../gen/berth/v1/bundle_service_pb.js";
import { ACCESS_LEVEL_NAMES } from "../../services/access-service.js";
import { nameOf } from "../../services/mapping.js";
import { checkResultToJson } from "../rest-json.js";
import { str } from "./params.js";
import { type Json, type RestRoute, route } from "./route.js";

const B = BundleService.method;

/** Only the fields named: a misspelt `dryRun` must not turn a dry run into an import. */
function onlyFields(body: Json, allowed: readonly string[]): void {
  const unknown = Object.keys(body).find((k) => !allowed.includes(k));
  if (unknown) throw ValidationError.field(unknown, `is not a known field (expected ${allowed.join(", ")})`);
}

function exportRequest(body: Json) {
  onlyFields(body, ["connectionIds", "all", "passphrase"]);
  const ids = body.connectionIds;
  if (ids !== undefined && (!Array.isArray(ids) || ids.some((id) => typeof id !== "string" || id === "")))
    throw ValidationError.field("connectionIds", "must be an array of connection ids");
  const all = body.all;
  if (all !== undefined && typeof all !== "boolean")
    throw ValidationError.field("all", "must be true or false");
  return {
    connectionIds: (ids ?? []) as string[],
    allAdministered: all === true,
    passphrase: str(body, "passphrase"),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bundle as base64 (line breaks allowed): strict, since Buffer.from would skip any garbage. */
function bundleBytes(value: unknown): Buffer {
  if (typeof value !== "string" || value === "")
    throw ValidationError.field("bundle", "give the bundle, base64-encoded");
  const text = value.replace(/\s+/g, "");
  if (text.length > Math.ceil(MAX_BUNDLE_BYTES / 3) * 4)
    throw ValidationError.field("bundle", `is larger than a bundle may be (${MAX_BUNDLE_BYTES} bytes)`);
  if (text.length % 4 !== 0 || !BASE64.test(text))
    throw ValidationError.field("bundle", "is not valid base64");
  return Buffer.from(text, "base64");
}

function importRequest(body: Json) {
  onlyFields(body, ["bundle", "passphrase", "dryRun", "timeoutMs"]);
  const { dryRun, timeoutMs } = body;
  if (dryRun !== undefined && typeof dryRun !== "boolean")
    throw ValidationError.field("dryRun", "must be true or false");
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0)
  )
    throw ValidationError.field("timeoutMs", "must be a whole number of milliseconds");
  return {
    bundle: bundleBytes(body.bundle),
    passphrase: str(body, "passphrase"),
    dryRun: dryRun === true,
    timeoutMs: (timeoutMs as number | undefined) ?? 0,
  };
}

function importToJson(r: ImportBundleResponse) {
  return {
    applied: r.applied,
    dryRun: r.dryRun,
    ok: r.ok,
    exportedAt: r.exportedAt,
    exportedBy: r.exportedBy,
    connections: r.connections.map((c) => ({
      name: c.name,
      type: c.type,
      outcome: c.outcome,
      message: c.message || null,
      id: c.id || null,
      test: c.test ? checkResultToJson(c.test) : null,
      grants: c.grants.map((g) => ({
        principalKind: g.principalKind,
        principal: g.principal,
        accessLevel: nameOf(ACCESS_LEVEL_NAMES, g.accessLevel) ?? "unspecified",
        applied: g.applied,
        skippedReason: g.skippedReason || null,
      })),
    })),
  };
}

/** /api/bundles: encrypted connection bundles out of and into this Berth. */
export const BUNDLE_ROUTES: RestRoute[] = [
  route({
    verb: "POST",
    path: "/api/bundles/export",
    method: B.exportBundle,
    request: ({ body }) => exportRequest(body),
    response: (r) => ({
      // Bytes: the sender writes them as they are (application/octet-stream).
      body: r.bundle,
      headers: {
        "content-disposition": 'attachment; filename="berth-bundle.bin"',
        "x-berth-bundle-connections": String(r.connections),
        "x-berth-bundle-grants": String(r.grants),
      },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/bundles/import",
    method: B.importBundle,
    request: ({ body }) => importRequest(body),
    response: (r) => ({ body: importToJson(r) }),
  }),
];
