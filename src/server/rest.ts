import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Interceptor } from "@connectrpc/connect";
import { validateSpec } from "../connections/validation.js";
import { PayloadTooLargeError, ValidationError } from "../errors/berth-error.js";
import { toRestError } from "../errors/mapping.js";
import { AccessService, GrantAccessRequestSchema } from "../gen/berth/v1/access_service_pb.js";
import { AdminService, type GetKeyStatusResponse } from "../gen/berth/v1/admin_service_pb.js";
import { AuditService } from "../gen/berth/v1/audit_service_pb.js";
import { AuthService } from "../gen/berth/v1/auth_service_pb.js";
import { ConnectionService } from "../gen/berth/v1/connection_service_pb.js";
import { CreateServiceTokenRequestSchema, TokenService } from "../gen/berth/v1/token_service_pb.js";
import { ConnectionSpecSchema, ConnectionStatus } from "../gen/berth/v1/types_pb.js";
import { UserService } from "../gen/berth/v1/user_service_pb.js";
import { specFromProto } from "../services/mapping.js";
import { invokeThroughChain } from "./interceptor-chain.js";
import { clientCertificateOf, contextValuesFor, type RequestInfo, requestIdFrom } from "./request-info.js";
import {
  accessToJson,
  checkResultToJson,
  connectionToJson,
  messageFromRestJson,
  serviceTokenToJson,
  timestampToJson,
  userToJson,
} from "./rest-json.js";
import type { Services } from "./routes.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;
type Json = Record<string, unknown>;

interface Parsed {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Json;
  header: Headers;
}

interface RestRoute<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  verb: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  method: DescMethodUnary<I, O>;
  /** Success status (200 unless said). */
  status?: number;
  request(p: Parsed): MessageInitShape<I>;
  response(res: MessageShape<O>, p: Parsed): { body?: unknown; headers?: Record<string, string> };
}

function route<I extends DescMessage, O extends DescMessage>(r: RestRoute<I, O>): RestRoute {
  return r as unknown as RestRoute;
}

const C = ConnectionService.method;
const A = AuthService.method;
const G = AccessService.method;
const U = UserService.method;
const AU = AuditService.method;
const T = TokenService.method;
const AD = AdminService.method;

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

/** The last path segment of DELETE …/access/{who}: a user id, or a Google address (has an @). */
function granteeOf(who: string) {
  return who.includes("@")
    ? { case: "googleEmail" as const, value: who }
    : { case: "userId" as const, value: who };
}

/** A spec body; for a new connection, the domain's reasons for the other fields join the type errors. */
function spec(body: Json, isNew = true) {
  return messageFromRestJson(
    ConnectionSpecSchema,
    body,
    isNew ? (partial) => validateSpec(specFromProto(partial), { kind: "new" }) : undefined,
  );
}

function checkBody(body: Json): { timeoutMs: number } {
  const { timeoutMs, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown) throw ValidationError.field(unknown, "is not a known field (expected timeoutMs)");
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0)
  ) {
    throw ValidationError.field("timeoutMs", "must be a whole number of milliseconds");
  }
  return { timeoutMs: (timeoutMs as number | undefined) ?? 0 };
}

/** `If-Match: "3"` or `?version=3` or a body's `version`: the optimistic-concurrency version. */
function expectedVersion(p: Parsed, fromBody?: unknown): number | undefined {
  const raw =
    p.header.get("if-match")?.replace(/^W\//, "").replaceAll('"', "") ?? p.query.get("version") ?? fromBody;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
    throw ValidationError.field("version", "must be a positive integer");
  return n;
}

const etag = (version: number) => ({ etag: `"${version}"` });

/** The RFC's REST paths (§3.3) and /api/auth, each mapped onto one RPC. */
const ROUTES: RestRoute[] = [
  route({
    verb: "GET",
    path: "/api/admin/keys",
    method: AD.getKeyStatus,
    request: () => ({}),
    response: (r) => ({ body: keyStatusToJson(r) }),
  }),
  route({
    verb: "POST",
    path: "/api/admin/keys/rotate",
    method: AD.rotateKey,
    request: () => ({}),
    response: (r) => ({ body: { newVersion: r.newVersion, status: keyStatusToJson(r.status!) } }),
  }),
  route({
    verb: "POST",
    path: "/api/admin/keys/retire",
    method: AD.retireKeyVersions,
    request: ({ body }) => ({ minVersion: Number((body as { minVersion?: unknown })?.minVersion ?? 0) }),
    response: (r) => ({ body: keyStatusToJson(r.status!) }),
  }),
  route({
    verb: "POST",
    path: "/api/tokens",
    method: T.createServiceToken,
    status: 201,
    request: ({ body }) => messageFromRestJson(CreateServiceTokenRequestSchema, body),
    response: (r) => ({ body: { token: r.token, serviceToken: serviceTokenToJson(r.serviceToken!) } }),
  }),
  route({
    verb: "GET",
    path: "/api/tokens",
    method: T.listServiceTokens,
    request: () => ({}),
    response: (r) => ({ body: { serviceTokens: r.serviceTokens.map(serviceTokenToJson) } }),
  }),
  route({
    verb: "DELETE",
    path: "/api/tokens/:id",
    method: T.revokeServiceToken,
    status: 204,
    request: ({ params }) => ({ id: params.id! }),
    response: () => ({}),
  }),
  route({
    verb: "GET",
    path: "/api/audit",
    method: AU.listAuditEvents,
    request: ({ query }) => ({
      connectionId: query.get("connectionId") ?? "",
      actorId: query.get("actorId") ?? "",
      pageSize: intParam(query, "pageSize"),
      afterSeq: BigInt(intParam(query, "afterSeq")),
      ...(query.get("since") ? { since: timestampParam(query, "since") } : {}),
      ...(query.get("until") ? { until: timestampParam(query, "until") } : {}),
    }),
    response: (r) => ({
      body: {
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
        })),
      },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/audit/verify",
    method: AU.verifyAuditLog,
    request: () => ({}),
    response: (r) => ({
      body: {
        ok: r.ok,
        checked: Number(r.checked),
        firstBrokenSeq: r.firstBrokenSeq ? Number(r.firstBrokenSeq) : null,
        problem: r.problem || null,
      },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/users",
    method: U.createUser,
    status: 201,
    request: ({ body }) => ({
      username: str(body, "username"),
      password: str(body, "password"),
      role: str(body, "role"),
    }),
    response: (r) => ({ body: userToJson(r.user) }),
  }),
  route({
    verb: "GET",
    path: "/api/users",
    method: U.listUsers,
    request: () => ({}),
    response: (r) => ({ body: { users: r.users.map(userToJson) } }),
  }),
  route({
    verb: "PATCH",
    path: "/api/users/:id",
    method: U.updateUser,
    request: ({ params, body }) => ({
      id: params.id!,
      ...(body.role === undefined ? {} : { role: str(body, "role") }),
      ...(body.password === undefined ? {} : { password: str(body, "password") }),
      ...(body.disabled === undefined ? {} : { disabled: bool(body, "disabled") }),
    }),
    response: (r) => ({ body: userToJson(r.user) }),
  }),
  route({
    verb: "DELETE",
    path: "/api/users/:id",
    method: U.deleteUser,
    status: 204,
    request: ({ params }) => ({ id: params.id! }),
    response: () => ({}),
  }),
  route({
    verb: "DELETE",
    path: "/api/sign-in-locks/:username",
    method: U.clearSignInLocks,
    status: 204,
    request: ({ params }) => ({ username: params.username! }),
    response: () => ({}),
  }),
  route({
    verb: "POST",
    path: "/api/connections/:id/access",
    method: G.grantAccess,
    status: 201,
    request: ({ params, body }) =>
      messageFromRestJson(GrantAccessRequestSchema, { ...body, connectionId: params.id! }),
    response: (r) => ({ body: accessToJson(r.access!) }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id/access",
    method: G.listAccess,
    request: ({ params }) => ({ connectionId: params.id! }),
    response: (r) => ({ body: { access: r.access.map(accessToJson) } }),
  }),
  route({
    verb: "DELETE",
    path: "/api/connections/:id/access/:who",
    method: G.revokeAccess,
    status: 204,
    request: ({ params }) => ({ connectionId: params.id!, grantee: granteeOf(params.who!) }),
    response: () => ({}),
  }),
  route({
    verb: "POST",
    path: "/api/auth/login",
    method: A.login,
    request: ({ body }) => ({ username: str(body, "username"), password: str(body, "password") }),
    response: (r) => ({
      body: { token: r.token, expiresAt: timestampToJson(r.expiresAt), user: userToJson(r.user) },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/auth/google",
    method: A.loginWithGoogle,
    request: ({ body }) => ({ idToken: str(body, "idToken") }),
    response: (r) => ({
      body: { token: r.token, expiresAt: timestampToJson(r.expiresAt), user: userToJson(r.user) },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/auth/logout",
    method: A.logout,
    status: 204,
    request: () => ({}),
    response: () => ({}),
  }),
  route({
    verb: "GET",
    path: "/api/auth/me",
    method: A.whoAmI,
    request: () => ({}),
    response: (r) => ({
      body: { user: userToJson(r.user), sessionExpiresAt: timestampToJson(r.sessionExpiresAt) },
    }),
  }),
  route({
    verb: "POST",
    path: "/api/connections",
    method: C.createConnection,
    status: 201,
    request: ({ body }) => ({ spec: spec(body) }),
    response: (r) => ({
      body: connectionToJson(r.connection!),
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
    request: ({ body, query }) => ({
      target: { case: "spec" as const, value: spec(body) },
      timeoutMs: intParam(query, "timeoutMs"),
    }),
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
  route({
    verb: "POST",
    path: "/api/connections/:id/test",
    method: C.testConnection,
    request: ({ params, body }) => ({
      target: { case: "id" as const, value: params.id! },
      ...checkBody(body),
    }),
    response: (r) => ({ body: checkResultToJson(r.result!) }),
  }),
  route({
    verb: "POST",
    path: "/api/connections/:id/validate",
    method: C.validateConnection,
    request: ({ params, body }) => ({
      target: { case: "id" as const, value: params.id! },
      ...checkBody(body),
    }),
    response: (r) => ({ body: checkResultToJson(r.result!) }),
  }),
  route({
    verb: "POST",
    path: "/api/connections/:id/reset",
    method: C.resetPool,
    request: ({ params }) => ({ id: params.id! }),
    response: (r) => ({ body: { pool: r.pool ?? null } }),
  }),
  route({
    verb: "GET",
    path: "/api/connections/:id/status",
    method: C.getConnectionStatus,
    request: ({ params }) => ({ id: params.id! }),
    response: (r) => {
      const h = r.health!;
      return {
        body: {
          connectionId: h.connectionId,
          status: statusName(h.status),
          lastTestedAt: timestampToJson(h.lastTestedAt),
          lastTest: h.lastTest ? checkResultToJson(h.lastTest) : null,
          pool: h.pool ?? null,
          hosts: h.hosts.map((x) => ({
            server: x.host?.server,
            port: x.host?.port,
            role: x.role,
            status: statusName(x.status),
            lastCheckedAt: timestampToJson(x.lastCheckedAt),
            lastErrorReason: x.lastErrorReason || null,
            lastLatencyMs: x.lastLatencyMs,
          })),
        },
      };
    },
  }),
];

function statusName(s: ConnectionStatus): string {
  return (ConnectionStatus[s] ?? "UNSPECIFIED").toLowerCase();
}

function str(body: Json, field: string): string {
  const v = body[field];
  if (v === undefined) return "";
  if (typeof v !== "string") throw ValidationError.field(field, "must be a string");
  return v;
}

function timestampParam(q: URLSearchParams, name: string) {
  const d = new Date(q.get(name) ?? "");
  if (Number.isNaN(d.getTime())) throw ValidationError.field(name, "must be an ISO-8601 time");
  return timestampFromDate(d);
}

function bool(body: Json, field: string): boolean {
  const v = body[field];
  if (typeof v !== "boolean") throw ValidationError.field(field, "must be true or false");
  return v;
}

function intParam(q: URLSearchParams, name: string): number {
  const v = q.get(name);
  if (v === null || v === "") return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw ValidationError.field(name, "must be a non-negative integer");
  return n;
}

interface CompiledRoute {
  route: RestRoute;
  segments: string[];
}

function compile(routes: RestRoute[]): CompiledRoute[] {
  return routes.map((route) => ({ route, segments: route.path.split("/").slice(1) }));
}

function match(compiled: CompiledRoute[], verb: string, path: string) {
  const parts = path.split("/").slice(1);
  let pathMatched = false;
  for (const c of compiled) {
    if (c.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = c.segments[i]!;
      if (seg.startsWith(":")) params[seg.slice(1)] = decodeURIComponent(parts[i]!);
      else ok = seg === parts[i];
    }
    if (!ok) continue;
    pathMatched = true;
    if (c.route.verb === verb) return { route: c.route, params };
  }
  return pathMatched ? "method_not_allowed" : undefined;
}

export interface RestDeps {
  services: Services;
  interceptors: Interceptor[];
  maxBodyBytes: number;
}

/**
 * REST over the same service implementations and the same interceptor chain as gRPC and Connect:
 * a route turns JSON into the RPC's request message, runs the chain in-process, and turns the
 * answer (or the error, through errors/mapping) into the RFC's JSON.
 */
export function createRestHandler(deps: RestDeps) {
  const compiled = compile(ROUTES);
  const impls = new Map<string, (req: unknown, ctx: unknown) => unknown>();
  for (const [service, impl] of [
    [ConnectionService, deps.services.connection],
    [AuthService, deps.services.auth],
    [AccessService, deps.services.access],
    [UserService, deps.services.user],
    [AuditService, deps.services.audit],
    [TokenService, deps.services.token],
    [AdminService, deps.services.admin],
  ] as const) {
    for (const m of service.methods) {
      impls.set(
        `${service.typeName}/${m.name}`,
        (impl as Record<string, (r: unknown, c: unknown) => unknown>)[m.localName]!.bind(impl),
      );
    }
  }

  return async function handleRest(
    req: NodeRequest,
    res: NodeResponse,
    url: URL,
    peer: string,
  ): Promise<void> {
    const info: RequestInfo = {
      requestId: requestIdFrom(req.headers["x-request-id"]),
      peer,
      transport: "rest",
      route: `${req.method} ${url.pathname}`,
      clientCertificate: clientCertificateOf(req.socket),
    };
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const payload = body === undefined ? "" : JSON.stringify(body);
      res.writeHead(status, {
        "x-request-id": info.requestId,
        ...(payload ? { "content-type": "application/json; charset=utf-8" } : {}),
        "cache-control": "no-store",
        ...headers,
      });
      res.end(payload);
    };
    const sendError = (err: unknown) => {
      const e = toRestError(err, info.requestId);
      send(e.status, e.body, e.headers);
    };

    const found = match(compiled, req.method ?? "GET", url.pathname.replace(/\/+$/, "") || "/");
    if (found === undefined) {
      send(404, {
        error: "not_found",
        message: `No API route ${url.pathname}`,
        details: { request_id: info.requestId },
      });
      return;
    }
    if (found === "method_not_allowed") {
      send(405, {
        error: "validation_failed",
        message: `${req.method} is not allowed on ${url.pathname}`,
        details: { request_id: info.requestId },
      });
      return;
    }
    try {
      const body = await readJsonBody(req, deps.maxBodyBytes);
      const header = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string" && !k.startsWith(":")) header.set(k, v);
      }
      const parsed: Parsed = { params: found.params, query: url.searchParams, body, header };
      const { route } = found;
      const message = create(route.method.input, route.request(parsed));
      const rateHeaders: Record<string, string> = {};
      const out = await invoke(
        route.method,
        message,
        header,
        info,
        req,
        deps.interceptors,
        impls,
        rateHeaders,
      );
      const { body: resBody, headers } = route.response(out, parsed);
      send(route.status ?? 200, route.status === 204 ? undefined : resBody, { ...rateHeaders, ...headers });
    } catch (err) {
      sendError(err);
    }
  };
}

async function invoke(
  method: DescMethodUnary,
  message: MessageShape<DescMessage>,
  header: Headers,
  info: RequestInfo,
  req: NodeRequest,
  interceptors: Interceptor[],
  impls: Map<string, (req: unknown, ctx: unknown) => unknown>,
  rateHeaders: Record<string, string>,
): Promise<MessageShape<DescMessage>> {
  const abort = new AbortController();
  req.once("close", () => abort.abort());
  const res = await invokeThroughChain({
    method,
    impl: impls.get(`${method.parent.typeName}/${method.name}`)! as never,
    interceptors,
    protocolName: "rest",
    header,
    contextValues: contextValuesFor(info),
    signal: abort.signal,
    input: message,
  });
  // Rate-limit headers set by the chain travel on to the REST response.
  res.header.forEach((value, key) => {
    if (key.startsWith("x-ratelimit-")) rateHeaders[key] = value;
  });
  return res.message as MessageShape<DescMessage>;
}

async function readJsonBody(req: NodeRequest, maxBytes: number): Promise<Json> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new PayloadTooLargeError(maxBytes);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  // Any content type is read as JSON: `curl -d` sends form encoding by default, and authentication is a
  // bearer header (never a cookie), so a lenient parser opens no cross-site request hole.
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw ValidationError.field("body", `is not valid JSON (${(err as Error).message.slice(0, 100)})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw ValidationError.field("body", "must be a JSON object");
  }
  return value as Json;
}
