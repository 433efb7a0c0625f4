import { z } from "zod";
import { MAX_BUNDLE_BYTES } from "../../connections/bundle-format.js";
import { ValidationError } from "../../errors/berth-error.js";
import { BundleService, type ImportBundleResponse } from "../../gen/berth/v1/bundle_service_pb.js";
import { ACCESS_LEVEL_NAMES } from "../../services/access-service.js";
import { nameOf } from "../../services/mapping.js";
import { checkResultToJson } from "../rest-json.js";
import { type RestRoute, route } from "./route.js";
import { AccessLevelName, CheckResultJson } from "./schemas.js";

const B = BundleService.method;

const POSITIVE_MS = "must be a whole number of milliseconds";

/** Strict objects: a misspelt `dryRun` must not turn a dry run into an import. */
const ExportBody = z.strictObject({
  connectionIds: z
    .array(z.string().min(1), { error: "must be an array of connection ids" })
    .optional()
    .describe("The connections to export"),
  all: z.boolean({ error: "must be true or false" }).optional().describe("Every connection you administer"),
  passphrase: z.string({ error: "must be a string" }).default("").describe("Encrypts the bundle"),
});

const ImportBody = z.strictObject({
  bundle: z.string({ error: "give the bundle, base64-encoded" }).describe("The bundle, base64-encoded"),
  passphrase: z.string({ error: "must be a string" }).default(""),
  dryRun: z.boolean({ error: "must be true or false" }).optional().describe("Check and test; change nothing"),
  timeoutMs: z
    .int({ error: POSITIVE_MS })
    .min(0, { error: POSITIVE_MS })
    .max(0xffffffff, { error: POSITIVE_MS })
    .optional()
    .describe("A bound on each connection's test"),
});

const ImportJson = z.strictObject({
  applied: z.boolean(),
  dryRun: z.boolean(),
  ok: z.boolean(),
  exportedAt: z.string(),
  exportedBy: z.string(),
  connections: z.array(
    z.strictObject({
      name: z.string(),
      type: z.string(),
      outcome: z.string(),
      message: z.string().nullable(),
      id: z.string().nullable(),
      test: CheckResultJson.nullable(),
      grants: z.array(
        z.strictObject({
          principalKind: z.string(),
          principal: z.string(),
          accessLevel: AccessLevelName,
          applied: z.boolean(),
          skippedReason: z.string().nullable(),
        }),
      ),
    }),
  ),
});

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

function importRequest(body: z.output<typeof ImportBody>) {
  return {
    bundle: bundleBytes(body.bundle),
    passphrase: body.passphrase,
    dryRun: body.dryRun === true,
    timeoutMs: body.timeoutMs ?? 0,
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
    body: ExportBody,
    replyMedia: "application/octet-stream",
    errors: ["conflict"],
    request: ({ body }) => ({
      connectionIds: body.connectionIds ?? [],
      allAdministered: body.all === true,
      passphrase: body.passphrase,
    }),
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
    body: ImportBody,
    reply: ImportJson,
    errors: ["conflict", "connection_operation_failed", "deadline_exceeded", "security_violation"],
    request: ({ body }) => importRequest(body),
    response: (r) => ({ body: importToJson(r) }),
  }),
];
