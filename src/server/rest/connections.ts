import { validateSpec } from "../../connections/validation.js";
import { ValidationError } from "../../errors/berth-error.js";
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

const C = ConnectionService.method;

/** A spec body; for a new connection, the domain's reasons for the other fields join the type errors. */
function spec(body: Json, isNew = true) {
  return messageFromRestJson(
    ConnectionSpecSchema,
    body,
    isNew ? (partial) => validateSpec(specFromProto(partial), { kind: "new" }) : undefined,
  );
}

/** The body of a saved connection's test or validate: only `timeoutMs`. */
function checkBody(body: Json): { timeoutMs: number } {
  const { timeoutMs, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown) throw ValidationError.field(unknown, "is not a known field (expected timeoutMs)");
  return { timeoutMs: timeoutMsOf(timeoutMs) };
}

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
    request: ({ body }) => {
      const { initializePool, ...rest } = body;
      if (initializePool !== undefined && typeof initializePool !== "boolean")
        throw ValidationError.field("initializePool", "must be true or false");
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
    request: ({ body, query }) => unsavedCheckBody(body, query),
    response: (r) => ({ body: checkResultToJson(r.result!) }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id",
    method: C.getConnection,
    request: ({ params }) => ({ id: params.id! }),
    response: (r) => ({ body: connectionToJson(r.connection!), headers: etag(r.connection!.version) }),
  }),
  route({
    verb: "PUT",
    path: "/api/connections/:id",
    method: C.updateConnection,
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
    request: ({ params }) => ({ id: params.id! }),
    response: (r) => ({ body: { pool: poolToJson(r.pool) } }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id/status",
    method: C.getConnectionStatus,
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
    request: ({ params, body }) => ({
      target: { case: "id" as const, value: params.id! },
      ...checkBody(body),
    }),
    response: (r) => ({ body: checkResultToJson(r.result!) }),
  });
}
