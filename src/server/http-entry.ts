import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Registry } from "prom-client";
import { createConsoleHandler } from "./console.js";
import type { RequestHandler } from "./listener.js";
import { clientCertificateOf, contextValuesFor, requestIdFrom, transportOf } from "./request-info.js";
import { createRestHandler } from "./rest.js";
import { registerRoutes } from "./routes.js";
import type { Services } from "./service-table.js";

type NodeResponse = ServerResponse | Http2ServerResponse;

export interface HttpEntryDeps {
  services: Services;
  interceptors: Interceptor[];
  maxBodyBytes: number;
  /** Aborted on shutdown: open streams end. */
  shutdownSignal: AbortSignal;
  googleClientId: string | undefined;
  /** False while stopping. */
  ready: () => boolean;
  /** Rejects when the store cannot be reached. */
  pingStore: () => Promise<unknown>;
  metrics: Registry;
}

/**
 * Everything the HTTP port answers, by path: probes (/healthz, /readyz), /metrics, REST (/api/…),
 * and otherwise connect-node (gRPC, Connect, gRPC-Web), whose fallback is the web console.
 */
export function createHttpEntry(deps: HttpEntryDeps): RequestHandler {
  const rpc = createRpcHandler(deps);
  const rest = createRestHandler(deps);
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://berth");
    if (url.pathname === "/healthz") sendJson(res, 200, { status: "ok" });
    else if (url.pathname === "/readyz") void answerReady(res, deps);
    else if (url.pathname === "/metrics") void answerMetrics(res, deps.metrics);
    else if (url.pathname.startsWith("/api/")) void rest(req, res, url, req.socket?.remoteAddress ?? "");
    else rpc(req, res);
  };
}

/** connect-node over the service table; whatever is not an RPC is the web console (or a 404). */
function createRpcHandler(deps: HttpEntryDeps) {
  const serveConsole = createConsoleHandler({ googleClientId: deps.googleClientId });
  return connectNodeAdapter({
    routes: registerRoutes(deps.services),
    interceptors: deps.interceptors,
    readMaxBytes: deps.maxBodyBytes,
    shutdownSignal: deps.shutdownSignal,
    contextValues: (req: IncomingMessage | Http2ServerRequest) =>
      contextValuesFor({
        requestId: requestIdFrom(req.headers["x-request-id"]),
        peer: req.socket?.remoteAddress ?? "",
        transport: transportOf(req.headers["content-type"]),
        clientCertificate: clientCertificateOf(req.socket),
      }),
    fallback: (req, res) => serveConsole(req, res, new URL(req.url ?? "/", "http://berth").pathname),
  });
}

function sendJson(res: NodeResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Ready: not stopping, and the store answers. */
async function answerReady(res: NodeResponse, deps: HttpEntryDeps) {
  const ok = deps.ready();
  const up = await deps.pingStore().then(
    () => ok,
    () => false,
  );
  sendJson(res, up ? 200 : 503, { status: up ? "ready" : "not_ready" });
}

async function answerMetrics(res: NodeResponse, registry: Registry) {
  try {
    const text = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType });
    res.end(text);
  } catch {
    res.writeHead(500);
    res.end();
  }
}
