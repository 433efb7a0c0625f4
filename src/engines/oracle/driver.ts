import type { Socket } from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import oracledb from "oracledb";
import type { ConnectParams, Driver, DriverFailure, DriverSession } from "../../drivers/driver.js";
import { describeNodeError, safeMessage, startTls } from "../../drivers/failures.js";
import { OracleSession } from "./session.js";

/** ORA- codes a sign-in or statement can end in. */
const ORA: Record<string, string> = {
  "ORA-01017": "authentication_failed", // invalid username/password; logon denied
  "ORA-28000": "account_locked",
  "ORA-28001": "password_expired",
  "ORA-01045": "permission_denied", // user lacks CREATE SESSION
  "ORA-01031": "permission_denied",
  "ORA-12514": "service_not_found", // listener does not know the service
  "ORA-12505": "service_not_found", // listener does not know the SID
  "ORA-12541": "connection_refused", // no listener
  "ORA-12170": "timeout",
  "ORA-12537": "connection_reset",
  "ORA-12516": "too_many_connections",
  "ORA-12519": "too_many_connections",
  "ORA-12520": "too_many_connections",
  "ORA-00018": "too_many_connections", // maximum number of sessions exceeded
  "ORA-01033": "server_starting", // initialization or shutdown in progress
  "ORA-01034": "server_unavailable", // ORACLE not available
  "ORA-01089": "server_shutting_down",
  "ORA-00942": "object_not_found",
  "ORA-01013": "cancelled", // user requested cancel of current operation
  "ORA-00060": "deadlock",
  "ORA-03113": "connection_reset", // end-of-file on communication channel
  "ORA-03114": "connection_reset",
  "ORA-03135": "connection_reset",
};

/** oracledb thin's own NJS- codes. */
const NJS: Record<string, string> = {
  "NJS-500": "connection_reset", // connection to the Oracle Database was broken
  "NJS-501": "connection_reset",
  "NJS-503": "connection_refused", // connection to host could not be established
  "NJS-511": "connection_refused", // connection refused
  "NJS-510": "timeout", // connection timed out (connectTimeout)
  "NJS-530": "host_not_found", // host addresses unresolvable
  "NJS-518": "service_not_found", // service not registered with the listener
  "NJS-519": "service_not_found", // SID not registered with the listener
  "NJS-507": "tls_name_mismatch", // DN match failure
  "NJS-508": "tls_name_mismatch", // host name match failure
  "NJS-003": "connection_reset", // invalid or closed connection
  "NJS-505": "tls_failed", // TLS could not start: the wallet (CA, certificate, key) is unusable
  "NJS-521": "connection_reset",
};

const CONNECTION_LOST = new Set([
  "NJS-500",
  "NJS-501",
  "NJS-003",
  "NJS-521",
  "ORA-03113",
  "ORA-03114",
  "ORA-03135",
]);

/** NJS-506 wraps node's TLS failure in its message: name it by what node said. */
function tlsReason(message: string): string {
  if (/self[- ]signed|unable to (verify|get)/i.test(message)) return "tls_unknown_ca";
  if (/expired|not yet valid/i.test(message)) return "tls_certificate_expired";
  if (/altname|does not match|hostname/i.test(message)) return "tls_name_mismatch";
  return "tls_failed";
}

/**
 * Easy Connect for a service name; a full descriptor for a SID (Easy Connect cannot name one).
 * Host and service were validated to plain names, so nothing here can inject descriptor syntax.
 */
export function connectString(
  params: Pick<ConnectParams, "host" | "address" | "port" | "database" | "tls" | "engineOptions">,
): string {
  const protocol = params.tls.options ? "tcps" : "tcp";
  // The checked address, except under verify-full: thin mode matches the certificate against the
  // connect string's host and takes no separate server name, so there it connects by name and
  // resolves it again (a residual DNS-rebinding gap, documented in the README).
  const target = params.tls.verify === "full" ? params.host : (params.address ?? params.host);
  const host = target.includes(":") ? `[${target}]` : target;
  if (params.engineOptions.oracleSid) {
    return `(DESCRIPTION=(ADDRESS=(PROTOCOL=${protocol.toUpperCase()})(HOST=${target})(PORT=${params.port}))(CONNECT_DATA=(SID=${params.engineOptions.oracleSid})))`;
  }
  return `${protocol}://${host}:${params.port}/${params.database}`;
}

export function connectionAttributes(params: ConnectParams): oracledb.ConnectionAttributes {
  const tls = params.tls.options;
  const wallet = tls ? [tls.ca, tls.cert, tls.key].filter((x) => typeof x === "string").join("\n") : "";
  const seconds = Math.max(1, Math.ceil(params.connectTimeoutMs / 1000));
  return {
    user: params.credentials.username,
    password: params.credentials.password,
    connectString: connectString(params),
    connectTimeout: seconds,
    transportConnectTimeout: seconds,
    ...(tls
      ? {
          // verify-full checks the host name; verify-ca only the chain (thin mode always checks that).
          sslServerDNMatch: params.tls.verify === "full",
          ...(wallet ? { walletContent: wallet } : {}),
        }
      : {}),
  };
}

export const oracleDriver: Driver = {
  engine: "oracle",

  /** TCPS is TLS from the first byte, like HTTPS: there is nothing to negotiate first. */
  async negotiateTls(socket: Socket, options: ConnectionOptions): Promise<TLSSocket | "not_offered"> {
    return startTls(socket, options);
  },

  async connect(params: ConnectParams): Promise<DriverSession> {
    return new OracleSession(await oracledb.getConnection(connectionAttributes(params)));
  },

  isConnectionError(err: unknown): boolean {
    const code = (err as { code?: unknown })?.code;
    return typeof code === "string" && CONNECTION_LOST.has(code);
  },

  describeError(err: unknown): DriverFailure {
    const e = err as { code?: unknown; errorNum?: unknown };
    // Thin mode puts the cause of an NJS error on its second line ("Help:" links on the last);
    // "(CONNECTION_ID=...)" identifies the attempt in the server's trace files, so it stays.
    const lines = String((err as Error)?.message ?? err)
      .split("\n")
      .filter((l) => l.trim() !== "" && l !== "%s" && !l.startsWith("Help:"));
    const message = safeMessage(lines.join(": "));
    const code = typeof e.code === "string" ? e.code : "";
    if (ORA[code]) return { reason: ORA[code]!, code, message };
    if (NJS[code]) return { reason: NJS[code]!, code, message };
    if (code === "NJS-506") return { reason: tlsReason(message), code, message };
    if (code.startsWith("ORA-")) return { reason: "server_error", code, message };
    const node = describeNodeError(err);
    if (node) return node;
    return { reason: "unknown", code, message };
  },
};
