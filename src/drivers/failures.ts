import type { Socket } from "node:net";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import type { DriverFailure } from "./driver.js";

/** Node's network and TLS error codes, in Berth's reasons. Shared by every driver. */
const NODE_CODES: Record<string, string> = {
  ENOTFOUND: "host_not_found",
  EAI_NONAME: "host_not_found",
  EAI_AGAIN: "dns_unavailable",
  ECONNREFUSED: "connection_refused",
  ETIMEDOUT: "timeout",
  ECONNRESET: "connection_reset",
  EPIPE: "connection_reset",
  EHOSTUNREACH: "host_unreachable",
  ENETUNREACH: "host_unreachable",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "tls_unknown_ca",
  SELF_SIGNED_CERT_IN_CHAIN: "tls_unknown_ca",
  DEPTH_ZERO_SELF_SIGNED_CERT: "tls_unknown_ca",
  UNABLE_TO_GET_ISSUER_CERT: "tls_unknown_ca",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "tls_unknown_ca",
  ERR_TLS_CERT_ALTNAME_INVALID: "tls_name_mismatch",
  CERT_HAS_EXPIRED: "tls_certificate_expired",
  CERT_NOT_YET_VALID: "tls_certificate_expired",
  ERR_SSL_WRONG_VERSION_NUMBER: "tls_failed",
};

export function describeNodeError(err: unknown): DriverFailure | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string") return undefined;
  const reason =
    NODE_CODES[code] ??
    (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") ? "tls_failed" : undefined);
  if (!reason) return undefined;
  return { reason, code, message: safeMessage(err) };
}

/** A driver's message, cut to one line. Drivers do not put passwords in messages; we still cap them. */
export function safeMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  const line = m.split("\n")[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

export class StageTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  constructor(what: string, ms: number) {
    super(`${what} did not complete within ${ms} ms`);
  }
}

/** Reads exactly `n` bytes from a socket that is not yet piped anywhere. */
export function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= n) {
        cleanup();
        socket.pause();
        if (buf.length > n) socket.unshift(buf.subarray(n));
        resolve(buf.subarray(0, n));
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onEnd = () => {
      cleanup();
      reject(Object.assign(new Error("The server closed the connection"), { code: "ECONNRESET" }));
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("end", onEnd);
    socket.resume();
  });
}

/** Starts TLS on an already negotiated socket and waits for the handshake. */
export function startTls(socket: Socket, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket });
    secure.once("secureConnect", () => {
      secure.off("error", reject);
      resolve(secure);
    });
    secure.once("error", reject);
  });
}
