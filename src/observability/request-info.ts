import { createContextKey } from "@connectrpc/connect";

/** Facts about the request that every layer may want: for logs, audit and error messages. */
export interface RequestInfo {
  readonly requestId: string;
  /** Remote address of the caller (behind a trusted proxy, the client it forwarded for). */
  readonly peer: string;
  /** The trusted proxy the request came through, when `peer` was read from X-Forwarded-For. */
  readonly proxy?: string | undefined;
  /** "grpc" | "connect" | "grpc-web" | "rest". */
  readonly transport: string;
  /** For REST: "POST /api/connections". */
  readonly route?: string;
  /** For REST: the matched route's template, "GET /api/connections/:id" (a bounded metrics label). */
  readonly routeTemplate?: string;
  /** A client certificate that the client CA verified during the TLS handshake (mutual TLS). */
  readonly clientCertificate?: ClientCertificate | undefined;
}

export interface ClientCertificate {
  /** The subject's common name: the service principal it stands for. */
  readonly commonName: string;
  readonly fingerprint256: string;
}

export const requestInfoKey = createContextKey<RequestInfo>(
  { requestId: "unknown", peer: "", transport: "unknown" },
  { description: "berth request info" },
);
