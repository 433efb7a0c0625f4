import { randomUUID } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { type ContextValues, createContextValues } from "@connectrpc/connect";
import { type ClientCertificate, type RequestInfo, requestInfoKey } from "../observability/request-info.js";

// The request facts and their context key live in observability (services read them too).
export { type ClientCertificate, type RequestInfo, requestInfoKey } from "../observability/request-info.js";

/**
 * The verified client certificate of a request's socket, if any. Only a certificate that chained
 * to BERTH_TLS_CLIENT_CA_FILE counts (`authorized`); one the handshake tolerated but could not
 * verify (client auth "optional") is ignored, as if none had been sent.
 */
export function clientCertificateOf(socket: unknown): ClientCertificate | undefined {
  const s = socket as Partial<TLSSocket> | undefined;
  if (!s || typeof s.getPeerCertificate !== "function" || s.authorized !== true) return undefined;
  const cert = s.getPeerCertificate();
  const cn = cert?.subject?.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  return commonName ? { commonName, fingerprint256: cert.fingerprint256 } : undefined;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a caller's x-request-id when it is sane (so traces join up); otherwise makes one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  return v && SAFE_ID.test(v) ? v : randomUUID();
}

export function transportOf(contentType: string | undefined): string {
  const ct = contentType ?? "";
  if (ct.startsWith("application/grpc-web")) return "grpc-web";
  if (ct.startsWith("application/grpc")) return "grpc";
  return "connect";
}

export function contextValuesFor(info: RequestInfo): ContextValues {
  return createContextValues().set(requestInfoKey, info);
}
