import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { clientError } from "./errors.js";

export interface TlsOptions {
  /** CA certificate(s) that Berth's certificate chains to (PEM); the system's CAs when absent. */
  ca?: string | Buffer;
  /** Client certificate (PEM), for mutual TLS: Berth maps its subject CN to a service token. */
  cert?: string | Buffer;
  /** The client certificate's private key (PEM). */
  key?: string | Buffer;
  /** The name to verify Berth's certificate against, when it is not the URL's host. */
  servername?: string;
}

export interface TransportOptions {
  /** Berth's URL: http://host:port (cleartext HTTP/2) or https://host:port (TLS). */
  url: string;
  /** A service token (berth_t_…) or a sign-in token, sent as `authorization: Bearer …`. */
  token?: string;
  tls?: TlsOptions;
  /** "grpc" (default; Berth's HTTP port or its dedicated gRPC port) or "connect" (HTTP port only). */
  transport?: "grpc" | "connect";
  /** HTTP/2 keep-alive PING interval while calls are open, so a dead connection is noticed (default 30000). */
  keepaliveMs?: number;
}

export interface ManagedTransport {
  transport: Transport;
  /** Closes the HTTP/2 connection and every call on it. */
  close(): void;
}

function bearer(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (next) => (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}

function checkedUrl(o: TransportOptions): URL {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    // Not echoed: a URL may carry credentials.
    throw clientError("INVALID_ARGUMENT", "invalid_url", "`url` is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw clientError("INVALID_ARGUMENT", "invalid_url", `Use http:// or https://, not ${url.protocol}//`);
  }
  if (o.tls && url.protocol !== "https:") {
    throw clientError("INVALID_ARGUMENT", "invalid_url", "`tls` needs an https:// URL");
  }
  if (o.transport !== undefined && o.transport !== "grpc" && o.transport !== "connect") {
    throw clientError("INVALID_ARGUMENT", "invalid_transport", `transport is "grpc" or "connect"`);
  }
  return url;
}

/**
 * One HTTP/2 connection to Berth for every call of a client (the session manager reconnects after
 * Berth restarts). Connect needs HTTP/2 too: sessions are bidirectional streams.
 */
export function createTransport(o: TransportOptions): ManagedTransport {
  const url = checkedUrl(o);
  const baseUrl = url.origin;
  const nodeOptions = o.tls
    ? {
        ca: o.tls.ca,
        cert: o.tls.cert,
        key: o.tls.key,
        ...(o.tls.servername ? { servername: o.tls.servername } : {}),
      }
    : {};
  const sessionManager = new Http2SessionManager(
    baseUrl,
    { pingIntervalMs: o.keepaliveMs ?? 30_000, pingTimeoutMs: 10_000 },
    nodeOptions,
  );
  const interceptors = o.token ? [bearer(o.token)] : [];
  const common = { baseUrl, httpVersion: "2" as const, sessionManager, interceptors, useBinaryFormat: true };
  const transport = o.transport === "connect" ? createConnectTransport(common) : createGrpcTransport(common);
  return { transport, close: () => sessionManager.abort() };
}
