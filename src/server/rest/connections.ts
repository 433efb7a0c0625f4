import { z } from "zod";
import { validateSpec } from "../../connections/validation.js";
import type {
  FrontDoorClients,
  GetConnectionStatusResponse,
  PoolInitialization,
  PoolStats,
} from "../../gen/berth/v1/connection_service_pb.js";
import { ConnectionService } from "../../gen/berth/v1/connection_service_pb.js";
import { ConnectionSpecSchema } from "../../gen/berth/v1/types_pb.js";
import { specFromProto } from "../../services/mapping.js";
import { checkResultToJson, connectionToJson, messageFromRestJson, timestampToJson } from "../rest-json.js";
import { etag, expectedVersion, intParam, statusName, timeoutMsOf } from "./params.js";
import { type Json, type RestRoute, route } from "./route.js";
import {
  CheckResultJson,
  ConnectionJson,
  ConnectionStatusJson,
  PoolInitializationJson,
  PoolJson,
} from "./schemas.js";

const C = ConnectionService.method;

/** A spec body; for a new connection, the domain's reasons for the other fields join the type errors. */
function spec(body: Json, isNew = true) {
  return messageFromRestJson(
    ConnectionSpecSchema,
    body,
    // A first pass: the domain validates in full after decrypting a key off the main thread.
    isNew
      ? (partial) => validateSpec(specFromProto(partial), { kind: "new", keyDecryption: false })
      : undefined,
  );
}

const POSITIVE = "must be a positive integer";

/** The body of a saved connection's test or validate: only `timeoutMs`. */
const TimeoutMs = z
  .int({ error: "must be a whole number of milliseconds" })
  .min(0, { error: "must be a whole number of milliseconds" })
  .max(0xffffffff, { error: "must be a whole number of milliseconds" })
  .optional()
  .describe("A bound on the whole check (0 or absent: the server's default)");
const CheckBody = z.strictObject({ timeoutMs: TimeoutMs });

/** What a check can answer besides the common errors: the failed check itself, its bound, a refused target. */
const CHECK_ERRORS = ["connection_operation_failed", "deadline_exceeded", "security_violation"] as const;

/**
 * An unsaved test's body: the configuration plus `timeoutMs`, a body field as on a saved test.
 * `?timeoutMs=` (how it was once sent) is still read when the body has none.
 */
function unsavedCheckBody(body: Json, query: URLSearchParams) {
  const { timeoutMs, ...configuration } = body;
  return {
    target: { case: "spec" as const, value: spec(configuration) },
    timeoutMs: timeoutMs === undefined ? intParam(query, "timeoutMs") : timeoutMsOf(timeoutMs),
  };
}

/** Pool counters as plain JSON (the message's own fields, not its protobuf type). */
function poolToJson(p: PoolStats | undefined) {
  if (!p) return null;
  const { $typeName: _type, ...fields } = p;
  return fields;
}

/**
 * What opening a new connection's pool gave; a failure in the RFC §9.3 body, as an error answer
 * would carry it (pool_operation_failed, reason, current_size, max_size).
 */
function poolInitializationToJson(p: PoolInitialization) {
  return {
    initialized: p.initialized,
    pool: poolToJson(p.pool),
    error: p.initialized
      ? null
      : {
          error: p.errorKind || "pool_operation_failed",
          message: p.errorMessage,
          details: {
            reason: p.errorReason,
            ...(p.pool ? { current_size: p.pool.size, max_size: p.pool.maxSize } : {}),
          },
        },
  };
}

/** The front door's clients, or null when the front door is off on this instance. */
function frontDoorToJson(f: FrontDoorClients | undefined) {
  if (!f) return null;
  return {
    idle: f.idle,
    waiting: f.waiting,
    active: f.active,
    pinned: f.pinned,
    clients: f.clients.map((c) => ({
      username: c.username,
      principalKind: c.principalKind,
      source: c.source,
      state: c.state,
      pinnedWhy: c.pinnedWhy || null,
      connectedAt: timestampToJson(c.connectedAt),
      transactions: Number(c.transactions),
    })),
  };
}

function statusToJson(r: GetConnectionStatusResponse) {
  const h = r.health!;
  return {
    connectionId: h.connectionId,
    status: statusName(h.status),
    lastTestedAt: timestampToJson(h.lastTestedAt),
    lastTest: h.lastTest ? checkResultToJson(h.lastTest) : null,
    pool: poolToJson(h.pool),
    hosts: h.hosts.map((x) => ({
      server: x.host?.server,
      port: x.host?.port,
      role: x.role,
      status: statusName(x.status),
      lastCheckedAt: timestampToJson(x.lastCheckedAt),
      lastErrorReason: x.lastErrorReason || null,
      lastLatencyMs: x.lastLatencyMs,
      configuredRole: x.configuredRole,
      slot: x.slot,
      timeline: x.timeline || null,
      position: x.position || null,
      replicaLagMs: x.replicaLagMs ?? null,
      lagging: x.lagging,
      fenced: x.fenced,
      writer: x.writer,
      roleChangedAt: timestampToJson(x.roleChangedAt),
    })),
    noPrimary: h.noPrimary,
    frontDoor: frontDoorToJson(h.frontDoor),
  };
}

/** /api/connections: the RFC's registry paths (§3.3), checks and status. */
export const CONNECTION_ROUTES: RestRoute[] = [
  route({
    verb: "POST",
    path: "/api/connections",
    method: C.createConnection,
    status: 201,
    bodyMessage: ConnectionSpecSchema,
    // Besides the configuration (read as the message): whether to open the pool now.
    body: z.looseObject({
      initializePool: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe("Open the pool now and report how that went (poolInitialization)"),
    }),
    reply: ConnectionJson.extend({ poolInitialization: PoolInitializationJson.optional() }),
    errors: ["conflict", "security_violation"],
    request: ({ body }) => {
      const { initializePool, ...rest } = body;
      return { spec: spec(rest), ...(initializePool !== undefined ? { initializePool } : {}) };
    },
    response: (r) => ({
      body: {
        ...connectionToJson(r.connection!),
        ...(r.poolInitialization
          ? { poolInitialization: poolInitializationToJson(r.poolInitialization) }
          : {}),
      },
      headers: { location: `/api/connections/${r.connection!.id}`, ...etag(r.connection!.version) },
    }),
  }),
  route({
    verb: "GET",
    path: "/api/connections",
    method: C.listConnections,
    reply: z.strictObject({ connections: z.array(ConnectionJson), nextPageToken: z.string().nullable() }),
    request: ({ query }) => ({
      pageSize: intParam(query, "pageSize"),
      pageToken: query.get("pageToken") ?? "",
    }),
    response: (r) => ({
      body: { connections: r.connections.map(connectionToJson), nextPageToken: r.nextPageToken || null },
    }),
  }),
  // Before /{id}: tests an unsaved configuration (the console's "Test before saving").
  route({
    verb: "POST",
    path: "/api/connections/test",
    method: C.testConnection,
    summary: "Tests an unsaved configuration (the connection's fields and timeoutMs)",
    bodyMessage: ConnectionSpecSchema,
    // Besides the configuration (read by unsavedCheckBody as the message).
    body: z.looseObject({ timeoutMs: TimeoutMs }),
    reply: CheckResultJson,
    errors: CHECK_ERRORS,
    request: ({ body, query }) => unsavedCheckBody(body, query),
    response: (r) => ({ body: checkResultToJson(r.result!) }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id",
    method: C.getConnection,
    reply: ConnectionJson,
    request: ({ params }) => ({ id: params.id! }),
    response: (r) => ({ body: connectionToJson(r.connection!), headers: etag(r.connection!.version) }),
  }),
  route({
    verb: "PUT",
    path: "/api/connections/:id",
    method: C.updateConnection,
    bodyMessage: ConnectionSpecSchema,
    // Besides the configuration: the version read, as If-Match says it (expectedVersion reads it).
    body: z.looseObject({
      version: z
        .union([
          z.int({ error: POSITIVE }).min(1, { error: POSITIVE }).max(0xffffffff, { error: POSITIVE }),
          z.string().regex(/^[1-9][0-9]*$/, { error: POSITIVE }),
        ])
        .optional(),
    }),
    reply: ConnectionJson,
    errors: ["security_violation"],
    request: (p) => {
      const { version, ...rest } = p.body;
      return { id: p.params.id!, spec: spec(rest, false), expectedVersion: expectedVersion(p, version) };
    },
    response: (r) => ({ body: connectionToJson(r.connection!), headers: etag(r.connection!.version) }),
  }),
  route({
    verb: "DELETE",
    path: "/api/connections/:id",
    method: C.deleteConnection,
    status: 204,
    request: (p) => ({ id: p.params.id!, expectedVersion: expectedVersion(p) }),
    response: () => ({}),
  }),
  savedCheck("/api/connections/:id/test", C.testConnection),
  savedCheck("/api/connections/:id/validate", C.validateConnection),
  route({
    verb: "POST",
    path: "/api/connections/:id/reset",
    method: C.resetPool,
    body: z.strictObject({ forgetRoles: z.boolean().optional() }),
    reply: z.strictObject({ pool: PoolJson.nullable() }),
    errors: ["pool_operation_failed"],
    request: ({ params, body }) => ({ id: params.id!, forgetRoles: body.forgetRoles === true }),
    response: (r) => ({ body: { pool: poolToJson(r.pool) } }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id/status",
    method: C.getConnectionStatus,
    reply: ConnectionStatusJson,
    request: ({ params }) => ({ id: params.id! }),
    response: (r) => ({ body: statusToJson(r) }),
  }),
];

/** Test and validate of a saved connection: the same request (its id, an optional bound) and answer. */
function savedCheck(path: string, method: typeof C.testConnection | typeof C.validateConnection): RestRoute {
  return route({
    verb: "POST",
    path,
    method: method as typeof C.testConnection,
    body: CheckBody,
    reply: CheckResultJson,
    errors: CHECK_ERRORS,
    request: ({ params, body }) => ({
      target: { case: "id" as const, value: params.id! },
      timeoutMs: body.timeoutMs ?? 0,
    }),
    response: (r) => ({ body: checkResultToJson(r.result!) }),
  });
}
