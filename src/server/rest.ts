import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { PayloadTooLargeError, ValidationError } from "../errors/berth-error.js";
import { toRestError } from "../errors/mapping.js";
import type { ObservedRequest } from "../observability/request-metrics.js";
import { invokeThroughChain } from "./interceptor-chain.js";
import { clientCertificateOf, contextValuesFor, type RequestInfo, requestIdFrom } from "./request-info.js";
import { ACCOUNT_ROUTES } from "./rest/accounts.js";
import { ADMIN_ROUTES } from "./rest/admin.js";
import { BUNDLE_ROUTES } from "./rest/bundles.js";
import { CONNECTION_ROUTES } from "./rest/connections.js";
import { openApiDocument } from "./rest/openapi.js";
import { compileRoutes, type Json, type Parsed, type RestRoute } from "./rest/route.js";
import { methodsByPath, type Services } from "./service-table.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;
type Send = (status: number, body: unknown, headers?: Record<string, string>, raw?: string) => void;

/** The REST contract, generated from ROUTES (rest/openapi.ts). */
export const OPENAPI_PATH = "/api/openapi.json";
type Method = (req: unknown, ctx: unknown) => unknown;

/** The RFC's REST paths (§3.3) and /api/auth, each mapped onto one RPC. */
export const ROUTES: readonly RestRoute[] = [
  ...ADMIN_ROUTES,
  ...ACCOUNT_ROUTES,
  ...CONNECTION_ROUTES,
  ...BUNDLE_ROUTES,
];

export interface RestDeps {
  services: Services;
  interceptors: Interceptor[];
  maxBodyBytes: number;
  /** Larger limits for some methods, by "package.Service/Method" (ImportBundle's bundle). */
  bodyLimits?: Readonly<Record<string, number>>;
  /** Logs requests refused before any RPC runs (no route); the chain logs all the others. */
  log?: { info(fields: Record<string, unknown>, message: string): void };
  /** Counts requests refused before any RPC runs (the chain counts all the others). */
  observeRequest?: ((r: ObservedRequest) => void) | undefined;
}

/**
 * REST over the same service implementations and the same interceptor chain as gRPC and Connect:
 * a route turns JSON into the RPC's request message, runs the chain in-process, and turns the
 * answer (or the error, through errors/mapping) into the RFC's JSON.
 */
export function createRestHandler(deps: RestDeps) {
  const match = compileRoutes(ROUTES);
  const methods = methodsByPath(deps.services);
  // Public: the contract is the same on every instance and holds nothing but the routes' shapes
  // (tools fetch it before they have a token). Built once, on first ask.
  let openApi: string | undefined;

  return async function handleRest(
    req: NodeRequest,
    res: NodeResponse,
    url: URL,
    from: { peer: string; proxy?: string },
  ): Promise<void> {
    let info: RequestInfo = {
      requestId: requestIdFrom(req.headers["x-request-id"]),
      ...from,
      transport: "rest",
      route: `${req.method} ${url.pathname}`,
      clientCertificate: clientCertificateOf(req.socket),
    };
    const send = sender(res, info.requestId);
    if (url.pathname === OPENAPI_PATH && (req.method === "GET" || req.method === "HEAD")) {
      openApi ??= JSON.stringify(openApiDocument(ROUTES));
      send(200, undefined, { "content-type": "application/json; charset=utf-8" }, openApi);
      return;
    }
    const found = match(req.method ?? "GET", url.pathname.replace(/\/+$/, "") || "/");
    if (found === undefined || found === "method_not_allowed") {
      deps.log?.info(
        { request_id: info.requestId, route: info.route, ...from, outcome: found ?? "not_found" },
        "request refused",
      );
      sendUnrouted(send, found, req.method, url.pathname, info.requestId);
      // One bounded series for every path no route has (a probe's paths must not become labels).
      deps.observeRequest?.({
        transport: "rest",
        method: "",
        route: "unmatched",
        code: found ? "unimplemented" : "not_found",
        seconds: 0,
      });
      return;
    }
    info = { ...info, routeTemplate: `${found.route.verb} ${found.route.path}` };
    try {
      const parsed: Parsed = {
        params: found.params,
        query: url.searchParams,
        body: {},
        header: headersOf(req),
      };
      const { route } = found;
      // The body is read only once the chain has authenticated the caller (the innermost step):
      // an anonymous client cannot make Berth buffer and parse a megabyte. Until then the chain
      // sees the request built from the path alone (enough for the audit's target).
      const readBody: Interceptor = (next) => async (r) => {
        const limit = deps.bodyLimits?.[`${route.method.parent.typeName}/${route.method.name}`];
        parsed.body = bodyOf(route, await readJsonBody(req, limit ?? deps.maxBodyBytes));
        return next({ ...r, message: create(route.method.input, route.request(parsed)) } as never);
      };
      const impl = methods.get(`${route.method.parent.typeName}/${route.method.name}`)!;
      const out = await invoke(
        route,
        pathOnlyInput(route, parsed),
        parsed.header,
        info,
        res,
        [...deps.interceptors, readBody],
        impl,
      );
      const { body: resBody, headers } = route.response(out.message, parsed);
      send(route.status ?? 200, route.status === 204 ? undefined : resBody, {
        ...out.rateHeaders,
        ...headers,
      });
    } catch (err) {
      const e = toRestError(err, info.requestId);
      send(e.status, e.body, e.headers);
    }
  };
}

/** The request as the path and query alone describe it (or empty when the route needs its body for that). */
function pathOnlyInput(route: RestRoute, parsed: Parsed): MessageShape<DescMessage> {
  try {
    return create(route.method.input, route.request(parsed));
  } catch {
    // The path's own parameters (the connection's id) still name the target for the audit.
    const fields: Record<string, string> = {};
    for (const f of route.method.input.fields)
      if (f.fieldKind === "scalar" && typeof parsed.params[f.localName] === "string")
        fields[f.localName] = parsed.params[f.localName]!;
    return create(route.method.input, fields as never);
  }
}

function sender(res: NodeResponse, requestId: string): Send {
  return (status, body, headers = {}, raw = undefined) => {
    if (body instanceof Uint8Array) {
      // A route that answers bytes (a bundle): sent as they are.
      res.writeHead(status, {
        "x-request-id": requestId,
        "content-type": "application/octet-stream",
        "content-length": String(body.length),
        "cache-control": "no-store",
        ...headers,
      });
      res.end(body);
      return;
    }
    // A protobuf message passed through as-is must not show its internals ($typeName) to clients.
    const payload = raw ?? (body === undefined ? "" : JSON.stringify(body, withoutTypeName));
    res.writeHead(status, {
      "x-request-id": requestId,
      ...(payload ? { "content-type": "application/json; charset=utf-8" } : {}),
      "cache-control": "no-store",
      ...headers,
    });
    res.end(payload);
  };
}

function withoutTypeName(key: string, value: unknown): unknown {
  return key === "$typeName" ? undefined : value;
}

/** 404 for a path no route has, 405 for a path whose routes take other verbs. */
function sendUnrouted(
  send: Send,
  found: "method_not_allowed" | undefined,
  verb: string | undefined,
  path: string,
  requestId: string,
) {
  if (found === undefined) {
    send(404, { error: "not_found", message: `No API route ${path}`, details: { request_id: requestId } });
  } else {
    send(405, {
      error: "validation_failed",
      message: `${verb} is not allowed on ${path}`,
      details: { request_id: requestId },
    });
  }
}

function headersOf(req: NodeRequest): Headers {
  const header = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === "string" && !k.startsWith(":")) header.set(k, v);
  }
  return header;
}

async function invoke(
  route: RestRoute,
  input: MessageShape<DescMessage>,
  header: Headers,
  info: RequestInfo,
  res: NodeResponse,
  interceptors: Interceptor[],
  impl: Method,
): Promise<{ message: MessageShape<DescMessage>; rateHeaders: Record<string, string> }> {
  // The client went away only if the response closed before it was sent. (A request's own "close"
  // fires as soon as its body has been read, which would make every failure look cancelled.)
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const answer = await invokeThroughChain({
    method: route.method,
    impl: impl as never,
    interceptors,
    protocolName: "rest",
    header,
    contextValues: contextValuesFor(info),
    signal: abort.signal,
    input,
  });
  // Rate-limit headers set by the chain travel on to the REST response.
  const rateHeaders: Record<string, string> = {};
  answer.header.forEach((value, key) => {
    if (key.startsWith("x-ratelimit-")) rateHeaders[key] = value;
  });
  return { message: answer.message as MessageShape<DescMessage>, rateHeaders };
}

/** A body parsed with the route's zod schema (a body read as a protobuf message is the route's to read). */
function bodyOf(route: RestRoute, body: Json): Json {
  if (!route.body) return body;
  const parsed = route.body.safeParse(body);
  if (parsed.success) return parsed.data as Json;
  throw new ValidationError(
    parsed.error.issues.flatMap((i) =>
      i.code === "unrecognized_keys"
        ? i.keys.map((field) => ({ field, description: "is not a known field" }))
        : [{ field: i.path.length > 0 ? i.path.join(".") : "body", description: i.message }],
    ),
  );
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
