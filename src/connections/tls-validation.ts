import { createPrivateKey, X509Certificate } from "node:crypto";
import type { EngineDefinition } from "../engines/index.js";
import { hostProblem } from "./host.js";
import { type ConnectionSpecInput, SSL_MODES, type SslModeId } from "./settings.js";
import { type Bad, clip, LIMITS } from "./spec-fields.js";

/** The TLS settings of a spec that pass (or the safe choice where one was refused). */
export interface TlsFields {
  sslMode: SslModeId;
  caCertificate: string;
  clientCertificate: string;
}

/**
 * The TLS mode, the certificates and the client key's pairing with its certificate. The key is a
 * credential (encrypted apart from the settings), so it comes in on its own; on update a stored
 * key counts as given.
 */
export function tlsOf(
  input: ConnectionSpecInput,
  clientKey: string | undefined,
  hasStoredClientKey: boolean,
  engine: EngineDefinition,
  strictEncryption: boolean,
  bad: Bad,
): TlsFields {
  const sslMode = resolveSslMode(input.useSsl, input.sslMode, engine.defaultSslMode, bad);
  if (!engine.sslModes.includes(sslMode))
    bad(
      "sslMode",
      `"${sslMode}" is not available for ${engine.label} (allowed: ${engine.sslModes.join(", ")})${engine.sslModeNote ? `: ${engine.sslModeNote}` : ""}`,
    );
  if (strictEncryption && sslMode !== "verify-full")
    bad("strictEncryption", "needs sslMode verify-full: TDS 8.0 always verifies the server certificate");
  const caCertificate = pem(input.caCertificate, "caCertificate", bad, certificateProblem);
  const clientCertificate = pem(input.clientCertificate, "clientCertificate", bad, certificateProblem);
  if (clientKey !== undefined) pem(clientKey, "clientKey", bad, privateKeyProblem);
  const hasClientKey = clientKey !== undefined || hasStoredClientKey;
  if (clientCertificate && !hasClientKey) bad("clientKey", "is required with clientCertificate");
  if (clientKey !== undefined && !clientCertificate) bad("clientCertificate", "is required with clientKey");
  if (clientCertificate && sslMode === "disable")
    bad("sslMode", "must not be disable when a client certificate is set");
  return { sslMode, caCertificate, clientCertificate };
}

/** oracledb's thin mode loads the CA from a wallet that must also hold a private key. */
export function oracleCaCheck(tls: TlsFields, bad: Bad): void {
  if (tls.caCertificate && !tls.clientCertificate)
    bad(
      "caCertificate",
      "needs clientCertificate and clientKey for Oracle (oracledb thin mode reads the CA from a wallet that holds a key); or leave it empty and add the CA to the system store of Berth's host (NODE_EXTRA_CA_CERTS)",
    );
}

/** The name to verify the server's certificate against, where the engine's driver can be told one. */
export function tlsServerNameOf(value: string | undefined, engine: EngineDefinition, bad: Bad): string {
  const tlsServerName = value ?? "";
  if (tlsServerName) {
    const problem = hostProblem(tlsServerName);
    if (problem) bad("tlsServerName", problem);
    else if (!engine.supportsTlsServerName)
      bad("tlsServerName", `is not supported for ${engine.label}: connect by a name the certificate carries`);
  }
  return tlsServerName;
}

function resolveSslMode(
  useSsl: boolean | undefined,
  sslMode: string | undefined,
  engineDefault: SslModeId,
  bad: Bad,
): SslModeId {
  if (sslMode !== undefined && sslMode !== "") {
    if (!(SSL_MODES as readonly string[]).includes(sslMode)) {
      bad("sslMode", `unknown mode "${clip(sslMode)}": expected one of ${SSL_MODES.join(", ")}`);
      return "verify-full";
    }
    const mode = sslMode as SslModeId;
    // The same rule Berth answers with: useSsl is true for every mode but disable (prefer tries
    // TLS first), so a connection read back and sent again is never refused for its own useSsl.
    if (useSsl === true && mode === "disable")
      bad(
        "useSsl",
        `contradicts sslMode "disable" (useSsl: true needs prefer, require, verify-ca or verify-full)`,
      );
    if (useSsl === false && mode !== "disable")
      bad("useSsl", `contradicts sslMode "${mode}" (useSsl: false goes only with disable)`);
    return mode;
  }
  // Without a mode: useSsl true asks for the safe choice; nothing said means the engine's default
  // (libpq's prefer for PostgreSQL and MySQL, the driver's own for SQL Server and Oracle).
  if (useSsl === true) return "verify-full";
  if (useSsl === false) return "disable";
  return engineDefault;
}

function pem(
  value: string | undefined,
  field: string,
  bad: Bad,
  problemOf: (pem: string) => string | undefined,
): string {
  const s = value ?? "";
  if (s === "") return s;
  if (s.length > LIMITS.pemChars) {
    bad(field, `must be at most ${LIMITS.pemChars} characters`);
    return s;
  }
  const problem = problemOf(s);
  if (problem) bad(field, problem);
  return s;
}

function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return "must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)";
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return "contains a certificate that cannot be parsed";
    }
  }
  return undefined;
}

function privateKeyProblem(pem: string): string | undefined {
  try {
    createPrivateKey(pem);
    return undefined;
  } catch {
    // Never echo the key or the parser's message, which may quote it.
    return "must be an unencrypted PEM private key";
  }
}
