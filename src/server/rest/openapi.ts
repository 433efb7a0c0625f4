import { z } from "zod";
import type { ErrorKind } from "../../errors/berth-error.js";
import { httpStatusOfKind, httpStatusOverrides } from "../../errors/mapping.js";
import { isPublicMethod } from "../interceptors/authn.js";
import { type JsonSchema, messageJsonSchema } from "./message-schema.js";
import type { RestRoute } from "./route.js";
import { ErrorJson } from "./schemas.js";

type Document = Record<string, unknown>;
const HAS_BODY = new Set(["POST", "PUT", "PATCH"]);

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table: every route's path,
 * verb, parameters, body and answer schemas (zod's z.toJSONSchema, or the protobuf message the
 * route reads), security, and every error status it can answer in the RFC's envelope. A route
 * added to the table is in the document with nothing else to change.
 */
export function openApiDocument(routes: readonly RestRoute[]): Document {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    paths[path] ??= {};
    paths[path][r.verb.toLowerCase()] = operation(r);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Berth REST API",
      version: "v1",
      description:
        "Generated from Berth's route table. Each route runs one RPC of berth.v1 (named by " +
        "x-berth-rpc) through the same pipeline as gRPC and Connect. Errors use the envelope " +
        '{"error", "message", "details"}.',
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "A session token from POST /api/auth/login, or a service token",
        },
      },
      schemas: { Error: jsonSchemaOf(ErrorJson, "output") },
    },
  };
}

function operation(r: RestRoute): Record<string, unknown> {
  const rpc = `${r.method.parent.typeName}/${r.method.name}`;
  const isPublic = isPublicMethod(rpc);
  const pathParams = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const hasBody = HAS_BODY.has(r.verb);
  const versioned = r.method.input.fields.some((f) => f.localName === "expectedVersion");
  return {
    operationId: operationId(r),
    summary: r.summary ?? `${r.method.parent.name}.${r.method.name}`,
    tags: [r.method.parent.name],
    "x-berth-rpc": rpc,
    ...(isPublic ? { security: [] } : {}),
    parameters: [
      ...pathParams.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
      ...queryParameters(r, pathParams),
      ...(versioned ? versionParameters() : []),
    ],
    ...(hasBody ? { requestBody: requestBody(r, pathParams) } : {}),
    responses: {
      ...success(r),
      ...errorResponses(
        errorKinds(r, { isPublic, hasBody, hasPathParams: pathParams.length > 0, versioned }),
      ),
    },
  };
}

/** `deleteApiConnectionsIdAccessWho`: unique as verb and path are. */
function operationId(r: RestRoute): string {
  const words = r.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return r.verb.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

/** A GET's query names its request message's fields (what `request` reads), unless the route says. */
function queryParameters(r: RestRoute, pathParams: string[]) {
  const schema: JsonSchema = r.query
    ? jsonSchemaOf(r.query, "input")
    : r.verb === "GET" && pathParams.length === 0
      ? messageJsonSchema(r.method.input)
      : { properties: {} };
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>).map(([name, s]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema: s,
  }));
}

function versionParameters() {
  const version = { type: "integer", minimum: 1, maximum: 4294967295 };
  return [
    {
      name: "If-Match",
      in: "header",
      required: false,
      description: 'The version last read ("3", its ETag): a stale one is refused with 409',
      schema: { type: "string" },
    },
    { name: "version", in: "query", required: false, description: "As If-Match", schema: version },
  ];
}

function requestBody(r: RestRoute, pathParams: string[]) {
  const zod = r.body ? jsonSchemaOf(r.body, "input") : undefined;
  let schema: JsonSchema;
  if (r.bodyMessage) {
    // A message's fields, and the few the route reads beside them (its zod `body`).
    schema = messageJsonSchema(r.bodyMessage);
    if (zod) Object.assign(schema.properties as JsonSchema, zod.properties);
  } else {
    // Else the RPC's request message, less what the path supplies (`:id` is its id or connectionId).
    schema = zod ?? messageJsonSchema(r.method.input, new Set([...pathParams, "connectionId"]));
  }
  return { required: false, content: { "application/json": { schema } } };
}

function success(r: RestRoute) {
  const status = String(r.status ?? 200);
  if (r.status === 204) return { [status]: { description: "Done; no body" } };
  if (r.replyMedia) return { [status]: { description: "Success", content: { [r.replyMedia]: {} } } };
  const schema = r.reply ? jsonSchemaOf(r.reply, "output") : {};
  return { [status]: { description: "Success", content: { "application/json": { schema } } } };
}

/**
 * The kinds a route can answer: those of every route of its shape (a body can be malformed or too
 * large, a path's id can name nothing, a version can be stale, a caller can be refused or limited,
 * the store can be unreachable) and those the route lists.
 */
function errorKinds(
  r: RestRoute,
  shape: { isPublic: boolean; hasBody: boolean; hasPathParams: boolean; versioned: boolean },
): ErrorKind[] {
  const kinds = new Set<ErrorKind>(["validation_failed", "rate_limited", "unavailable", "internal"]);
  if (!shape.isPublic) for (const k of ["unauthenticated", "permission_denied"] as const) kinds.add(k);
  if (shape.hasBody) kinds.add("payload_too_large");
  if (shape.hasPathParams) kinds.add("not_found");
  if (shape.versioned) kinds.add("conflict");
  for (const k of r.errors ?? []) kinds.add(k);
  return [...kinds];
}

function errorResponses(kinds: ErrorKind[]) {
  const byStatus = new Map<number, Set<ErrorKind>>();
  const add = (status: number, kind: ErrorKind) =>
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(kind));
  for (const kind of kinds) add(httpStatusOfKind(kind), kind);
  // A kind whose reason answers with another status (a stored secret that fails its check is a 500).
  for (const o of httpStatusOverrides()) if (kinds.includes(o.kind)) add(o.http, o.kind);
  const responses: Record<string, unknown> = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    const names = [...set];
    responses[String(status)] = {
      description: names.join(", "),
      content: {
        "application/json": {
          schema: {
            allOf: [
              { $ref: "#/components/schemas/Error" },
              { type: "object", properties: { error: { enum: names } } },
            ],
          },
        },
      },
    };
  }
  return responses;
}

/** A zod schema as OpenAPI 3.1's JSON Schema (2020-12), without the `$schema` key. */
function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  });
  return rest as JsonSchema;
}
