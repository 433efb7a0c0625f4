import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { performance } from "node:perf_hooks";
import type { Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Registry } from "prom-client";
import type { ObservedRequest } from "../observability/request-metrics.js";
import type { ClientAddresses } from "./client-address.js";
import { createConsoleHandler } from "./console.js";
import type { RequestHandler } from "./listener.js";
import { createProtoBodyCheck } from "./proto-body-check.js";
import { clientCertificateOf, contextValuesFor, requestIdFrom, transportOf } from "./request-info.js";
import { createRestHandler } from "./rest.js";
import { registerRoutes } from "./routes.js";
import type { Services } from "./service-table.js";

type NodeResponse = ServerResponse | Http2ServerResponse;

export interface HttpEntryDeps {
  services: Services;
  interceptors: Interceptor[];
  maxBodyBytes: number;
  /** Larger limits for some methods, by "package.Service/Method" (ImportBundle: BERTH_MAX_BUNDLE_BYTES). */
  bodyLimits?: Readonly<Record<string, number>>;
  /** Aborted on shutdown: open streams end. */
  shutdownSignal: AbortSignal;
  googleClientId: string | undefined;
  /** False while stopping. */
  ready: () => boolean;
  /** What must answer for Berth to be ready (each rejects when it cannot). */
  checks: readonly ReadinessCheck[];
  /** Dependencies not configured, named in /readyz's answer so that their absence is visible. */
  notChecked?: readonly NotChecked[];
  metrics: Registry;
  /** /metrics on this port needs `Authorization: Bearer <token>`; without a token it is not served here. */
  metricsToken: string | undefined;
  /** Strict-Transport-Security on every answer (the port speaks TLS). */
  hsts: boolean;
  /** Logs requests refused before any RPC runs (unknown paths, missing metrics token). */
  log?: { info(fields: Record<string, unknown>, message: string): void };
  /** Counts REST requests no route answers (the interceptor chain counts the others). */
  observeRequest?: ((r: ObservedRequest) => void) | undefined;
  /** Who the client is behind trusted reverse proxies (BERTH_TRUSTED_PROXIES); without it, the peer. */
  clientAddresses?: ClientAddresses | undefined;
}

/**
 * The request's client address: its socket's peer, or whom a trusted proxy forwarded it for — then
 * with the proxy's own address, which the audit and the logs keep beside it.
 */
function peerOf(
  req: IncomingMessage | Http2ServerRequest,
  addresses: ClientAddresses | undefined,
): { peer: string; proxy?: string } {
  const socketPeer = req.socket?.remoteAddress ?? "";
  const peer = addresses ? addresses.of(socketPeer, req.headers["x-forwarded-for"]) : socketPeer;
  return peer === socketPeer ? { peer } : { peer, proxy: socketPeer };
}

/** One dependency /readyz checks; a check that does not answer within READY_CHECK_MS has failed. */
export interface ReadinessCheck {
  readonly name: string;
  /** What the check does, as /readyz reports it ("SELECT 1 on the SQLite store"); never a secret. */
  readonly checked: string;
  run(): Promise<unknown>;
}

/** A dependency /readyz does not check, and why (Redis when BERTH_REDIS_URL is unset). */
export interface NotChecked {
  readonly name: string;
  readonly why: string;
}

type CheckState = "ok" | "failing" | "timeout";

const READY_CHECK_MS = 1_000;
const HSTS = "max-age=31536000; includeSubDomains";

/**
 * Everything the HTTP port answers, by path: probes (/healthz, /readyz), /metrics, REST (/api/…),
 * and otherwise connect-node (gRPC, Connect, gRPC-Web), whose fallback is the web console.
 */
export function createHttpEntry(deps: HttpEntryDeps): RequestHandler {
  const rpc = createRpcHandler(deps);
  const rest = createRestHandler(deps);
  const checkProto = createProtoBodyCheck(deps.maxBodyBytes, deps.bodyLimits);
  return (req, res) => {
    // Browsers must not guess a type for an API answer (a JSON error rendered as HTML).
    res.setHeader("x-content-type-options", "nosniff");
    if (deps.hsts) res.setHeader("strict-transport-security", HSTS);
    const url = urlOf(req.url);
    if (!url) {
      sendJson(res, 400, { error: "validation_failed", message: "The request target is not a valid path" });
      return;
    }
    if (url.pathname === "/healthz") sendJson(res, 200, LIVENESS);
    else if (url.pathname === "/readyz") void answerReady(res, deps);
    else if (url.pathname === "/metrics") answerMetricsWithToken(req, res, deps);
    else if (url.pathname.startsWith("/api/")) void rest(req, res, url, peerOf(req, deps.clientAddresses));
    else
      void checkProto(req, res, url.pathname).then(
        (answered) => {
          if (!answered) return rpc(req, res);
          deps.log?.info(
            { path: url.pathname, ...peerOf(req, deps.clientAddresses), outcome: answered },
            "request refused",
          );
        },
        () => res.destroy(),
      );
  };
}

/** connect-node over the service table; whatever is not an RPC is the web console (or a 404). */
function createRpcHandler(deps: HttpEntryDeps) {
  const serveConsole = createConsoleHandler({ googleClientId: deps.googleClientId });
  return connectNodeAdapter({
    routes: registerRoutes(deps.services, deps.bodyLimits),
    interceptors: deps.interceptors,
    readMaxBytes: deps.maxBodyBytes,
    shutdownSignal: deps.shutdownSignal,
    contextValues: (req: IncomingMessage | Http2ServerRequest) =>
      contextValuesFor({
        requestId: requestIdFrom(req.headers["x-request-id"]),
        ...peerOf(req, deps.clientAddresses),
        transport: transportOf(req.headers["content-type"]),
        clientCertificate: clientCertificateOf(req.socket),
      }),
    fallback: (req, res) => serveConsole(req, res, urlOf(req.url)?.pathname ?? "/"),
  });
}

function sendJson(res: NodeResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/**
 * Liveness checks the process alone (it answers HTTP): a dependency that is down must not get a
 * healthy instance restarted. The body says so, for whoever wonders what was checked.
 */
const LIVENESS = {
  status: "ok",
  checks: { process: "ok" },
  checked: {
    process: { state: "ok", what: "the process answers HTTP (dependencies are checked by /readyz)" },
  },
};

/**
 * Ready: not stopping, and every check answers in time. The body names each check and its state
 * (`checks`), what each did and how long it took (`checked`), and what was not checked and why.
 */
async function answerReady(res: NodeResponse, deps: HttpEntryDeps) {
  const results = await Promise.all(deps.checks.map((c) => timedState(c)));
  const checks = Object.fromEntries(deps.checks.map((c, i) => [c.name, results[i]!.state]));
  const checked = Object.fromEntries(
    deps.checks.map((c, i) => [c.name, { state: results[i]!.state, what: c.checked, ms: results[i]!.ms }]),
  );
  const up = deps.ready() && results.every((r) => r.state === "ok");
  const notChecked = deps.notChecked ?? [];
  sendJson(res, up ? 200 : 503, {
    status: up ? "ready" : "not_ready",
    ...(deps.ready() ? {} : { reason: "stopping" }),
    checks,
    checked,
    ...(notChecked.length ? { notChecked: Object.fromEntries(notChecked.map((n) => [n.name, n.why])) } : {}),
  });
}

async function timedState(check: ReadinessCheck): Promise<{ state: CheckState; ms: number }> {
  const t0 = performance.now();
  const state = await checkState(check);
  return { state, ms: Math.round((performance.now() - t0) * 10) / 10 };
}

async function checkState(check: ReadinessCheck): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), READY_CHECK_MS);
  });
  try {
    return await Promise.race([check.run().then(() => "ok" as const), late]);
  } catch {
    return "failing";
  } finally {
    clearTimeout(timer);
  }
}

/** /metrics on the shared port: only with the configured bearer token (timing-safe compare). */
function answerMetricsWithToken(
  req: { headers: Record<string, unknown> },
  res: NodeResponse,
  deps: HttpEntryDeps,
) {
  const given = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
  if (deps.metricsToken && given && sameSecret(given, deps.metricsToken)) {
    void answerMetrics(res, deps.metrics);
    return;
  }
  deps.log?.info({ path: "/metrics", outcome: "refused" }, "request refused");
  sendJson(res, 404, { error: "not_found", message: "No API route /metrics" });
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

/** The separate metrics listener (bound to loopback by default): /metrics only, no token. */
export function createMetricsEntry(registry: Registry): RequestHandler {
  return (req, res) => {
    res.setHeader("x-content-type-options", "nosniff");
    if (urlOf(req.url)?.pathname === "/metrics") void answerMetrics(res, registry);
    else sendJson(res, 404, { error: "not_found", message: "Only /metrics is served here" });
  };
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

/**
 * The request target as a URL, or undefined when it cannot be one (`//%`, `http://[/`): a request
 * line is the caller's to choose, and `new URL` throwing in a request handler would end the process.
 */
function urlOf(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? "/", "http://berth");
  } catch {
    return undefined;
  }
}
