import type { Socket } from "node:net";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import { Connection, type ConnectionConfiguration } from "tedious";
import type { EngineOptions } from "../../connections/settings.js";
import type { ConnectParams, Driver, DriverFailure, DriverSession } from "../../drivers/driver.js";
import { describeNodeError, safeMessage } from "../../drivers/failures.js";
import { lookupInstancePort } from "./browser.js";
import { negotiateTdsTls } from "./prelogin.js";
import { SqlServerSession } from "./session.js";

/** SQL Server error numbers (sys.messages) a sign-in or statement can end in. */
const NUMBERS: Record<number, string> = {
  18456: "authentication_failed", // Login failed for user
  18452: "authentication_failed", // Login is from an untrusted domain (Windows authentication)
  18486: "account_locked", // account is locked out
  18487: "password_expired", // password has expired
  18488: "password_expired", // password must be changed
  18470: "account_disabled", // account is disabled
  4060: "database_not_found", // Cannot open database requested by the login
  4064: "database_not_found", // Cannot open user default database
  916: "permission_denied", // server principal is not able to access the database
  229: "permission_denied", // permission was denied on the object
  262: "permission_denied", // permission denied in database
  208: "object_not_found", // Invalid object name
  1205: "deadlock", // chosen as deadlock victim
  1222: "lock_timeout",
  3980: "cancelled", // request failed because the session was cancelled
  17809: "too_many_connections", // maximum number of user connections reached
  40613: "server_starting", // Azure: database not currently available
};

/** tedious's own codes. */
const CLIENT_CODES: Record<string, string> = {
  ETIMEOUT: "timeout",
  ECANCEL: "cancelled",
  ECLOSE: "connection_reset",
  EINSTLOOKUP: "instance_not_found",
  EINSTNOTFOUND: "instance_not_found",
  EUNSUPPORTED: "unsupported",
  EPROTOCOL: "protocol_error",
  ETDS: "protocol_error",
  EPARAM: "invalid_parameter",
};

/** The TLS settings of a plan, in tedious's words. tedious cannot skip the name check (verify-ca). */
export function encryptionConfig(
  params: Pick<ConnectParams, "tls" | "engineOptions">,
): Pick<
  NonNullable<ConnectionConfiguration["options"]>,
  "encrypt" | "trustServerCertificate" | "cryptoCredentialsDetails" | "serverName"
> {
  const tls = params.tls.options;
  if (!tls) return { encrypt: false, trustServerCertificate: false };
  return {
    encrypt: params.engineOptions.strictEncryption ? "strict" : true,
    trustServerCertificate: params.tls.verify === "none",
    cryptoCredentialsDetails: {
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
    },
    ...(tls.servername ? { serverName: tls.servername } : {}),
  };
}

export function connectionConfig(params: ConnectParams): ConnectionConfiguration {
  const { instanceName } = params.engineOptions;
  return {
    // The checked address; TLS presents and verifies the name through serverName (encryptionConfig).
    server: params.address ?? params.host,
    authentication: {
      type: "default",
      options: { userName: params.credentials.username, password: params.credentials.password },
    },
    options: {
      ...(instanceName ? { instanceName } : { port: params.port }),
      database: params.database,
      connectTimeout: params.connectTimeoutMs,
      // Berth enforces statement deadlines itself, with a cancel; tedious must not race it.
      requestTimeout: 0,
      cancelTimeout: 5000,
      useUTC: true,
      rowCollectionOnRequestCompletion: false,
      useColumnNames: false,
      appName: "berth",
      // Transient login failures are Berth's to retry (the pool does), not hidden inside connect.
      maxRetriesOnTransientErrors: 0,
      ...encryptionConfig(params),
    },
  };
}

function open(params: ConnectParams): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const conn = new Connection(connectionConfig(params));
    // tedious reports a failed sign-in as "Login failed" without the server's error number; the
    // number arrives first, as an ERROR token, and is what says what went wrong.
    let serverNumber: number | undefined;
    const onErrorMessage = (token: { number?: number }) => {
      serverNumber ??= token.number;
    };
    conn.on("errorMessage", onErrorMessage);
    conn.on("error", () => {});
    conn.connect((err) => {
      conn.off("errorMessage", onErrorMessage);
      if (!err) return resolve(conn);
      if (serverNumber !== undefined && (err as { number?: number }).number === undefined)
        Object.assign(err, { number: serverNumber });
      conn.close();
      reject(err);
    });
  });
}

function hasCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

export const sqlServerDriver: Driver = {
  engine: "sqlserver",

  async locate(host: string, options: EngineOptions, timeoutMs: number) {
    const port = await lookupInstancePort(host, options.instanceName, timeoutMs);
    return { port, via: `SQL Server Browser: instance ${options.instanceName} listens on ${port}` };
  },

  async negotiateTls(socket: Socket, options: ConnectionOptions, engineOptions: EngineOptions) {
    return engineOptions.strictEncryption ? strictTls(socket, options) : negotiateTdsTls(socket, options);
  },

  async connect(params: ConnectParams): Promise<DriverSession> {
    return new SqlServerSession(await open(params));
  },

  isConnectionError(err: unknown): boolean {
    return ["ESOCKET", "ECLOSE", "ECONNRESET", "EPIPE"].includes(hasCode(err) ?? "");
  },

  describeError(err: unknown): DriverFailure {
    const e = err as { number?: unknown; cause?: unknown; errors?: unknown };
    const message = safeMessage(err);
    if (typeof e.number === "number") {
      const reason = NUMBERS[e.number];
      return { reason: reason ?? "server_error", code: String(e.number), message };
    }
    const code = hasCode(err);
    if (code === "ESOCKET") {
      // tedious wraps the socket error: "Failed to connect to host:port - <cause>". A refused
      // port arrives as an AggregateError ("Could not connect (sequence)") over each address tried.
      const causes = [e.cause, ...(((e.cause as { errors?: unknown[] })?.errors ?? []) as unknown[])];
      for (const cause of causes) {
        const node = describeNodeError(cause);
        if (node) return { ...node, message };
      }
      if (message.includes("Could not connect (sequence)"))
        return { reason: "connection_refused", code: "ESOCKET", message };
      return { reason: "connection_reset", code: "ESOCKET", message };
    }
    if (code && CLIENT_CODES[code]) return { reason: CLIENT_CODES[code]!, code, message };
    if (code === "ELOGIN") return { reason: "authentication_failed", code, message };
    const node = describeNodeError(err);
    if (node) return node;
    return { reason: "unknown", code: code ?? "", message };
  },
};

/** TDS 8.0 (strict): TLS from the first byte, with ALPN tds/8.0, before any TDS packet. */
export function strictTls(socket: Socket, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket, ALPNProtocols: ["tds/8.0"] });
    secure.once("secureConnect", () => {
      secure.off("error", reject);
      resolve(secure);
    });
    secure.once("error", reject);
  });
}
