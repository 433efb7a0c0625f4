import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";
import type { serverVariables } from "./server-variables.js";

export interface ServerTlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA of client certificates; set = mutual TLS, mapping a certificate to a service principal. */
  readonly clientCaFile: string | undefined;
  /** optional: verify a certificate when one is sent; require: refuse handshakes without one. */
  readonly clientAuth: "optional" | "require";
}

/** TLS on Berth's own port (and the front door's), with optional client certificates. */
export const tlsVariables = {
  BERTH_TLS_CERT_FILE: z.string().optional(),
  BERTH_TLS_KEY_FILE: z.string().optional(),
  BERTH_TLS_CLIENT_CA_FILE: z.string().optional(),
  BERTH_TLS_CLIENT_AUTH: z.enum(["optional", "require"]).default("optional"),
};

type TlsVariables = ParsedVariables<typeof tlsVariables>;

/** Rules between the TLS variables (and the dedicated gRPC port, which cannot serve TLS). */
export function tlsProblems(c: TlsVariables & ParsedVariables<typeof serverVariables>): string[] {
  const problems: string[] = [];
  if (Boolean(c.BERTH_TLS_CERT_FILE) !== Boolean(c.BERTH_TLS_KEY_FILE))
    problems.push("BERTH_TLS_KEY_FILE: TLS needs both BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE");
  if (c.BERTH_TLS_CLIENT_CA_FILE && !c.BERTH_TLS_CERT_FILE)
    problems.push(
      "BERTH_TLS_CLIENT_CA_FILE: client certificates need TLS (BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE)",
    );
  if (c.BERTH_TLS_CERT_FILE && c.BERTH_GRPC_PORT !== undefined)
    problems.push(
      "BERTH_GRPC_PORT: the dedicated gRPC port serves plaintext only; with TLS, use the main port for gRPC",
    );
  return problems;
}

/** Plaintext unless a certificate is given (tlsProblems makes sure its key is given too). */
export function tlsSettings(c: TlsVariables): ServerTlsSettings | undefined {
  return c.BERTH_TLS_CERT_FILE
    ? Object.freeze({
        certFile: c.BERTH_TLS_CERT_FILE,
        keyFile: c.BERTH_TLS_KEY_FILE!,
        clientCaFile: c.BERTH_TLS_CLIENT_CA_FILE,
        clientAuth: c.BERTH_TLS_CLIENT_AUTH,
      })
    : undefined;
}
