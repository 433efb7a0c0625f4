import type { Socket } from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import mysqlCore from "mysql2";
import type mysql from "mysql2/promise";
import { PLAIN } from "../../connections/tls-plan.js";
import type { ConnectParams, Driver, DriverFailure, DriverSession } from "../../drivers/driver.js";
import { describeNodeError, readBytes, safeMessage, startTls } from "../../drivers/failures.js";
import { CLEARTEXT_PASSWORD_REFUSED, CleartextPasswordRefusedError } from "../cleartext-refusal.js";
import { mysqlEndpoint } from "./endpoint.js";
import { MysqlSession } from "./session.js";

/** MySQL/MariaDB server error numbers a connection attempt can end in. */
const ERRNOS: Record<number, string> = {
  1045: "authentication_failed", // ER_ACCESS_DENIED_ERROR
  1044: "permission_denied", // ER_DBACCESS_DENIED_ERROR
  1049: "database_not_found", // ER_BAD_DB_ERROR
  1040: "too_many_connections", // ER_CON_COUNT_ERROR
  1129: "host_blocked", // ER_HOST_IS_BLOCKED
  1130: "host_not_allowed", // ER_HOST_NOT_PRIVILEGED
  1251: "authentication_failed", // ER_NOT_SUPPORTED_AUTH_MODE
  1698: "authentication_failed", // ER_ACCESS_DENIED_NO_PASSWORD_ERROR (MariaDB: unknown user)
  3159: "tls_required", // ER_SECURE_TRANSPORT_REQUIRED
  1317: "cancelled", // ER_QUERY_INTERRUPTED
  3024: "timeout", // ER_QUERY_TIMEOUT
};

/** mysql2's own (client-side) codes. */
const CLIENT_CODES: Record<string, string> = {
  HANDSHAKE_NO_SSL_SUPPORT: "tls_not_offered",
  PROTOCOL_CONNECTION_LOST: "connection_reset",
  ETIMEDOUT: "timeout",
};

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;

/**
 * mysql_clear_password sends the password as it is. mysql2 refuses it unless told otherwise; Berth
 * says so itself rather than lean on that default: over TLS the password goes (LDAP and PAM
 * accounts need it), in plain text only when the connection allows it.
 */
function clearPasswordPlugin(password: string, overTls: boolean, allowCleartext: boolean) {
  return () => async () => {
    if (!overTls && !allowCleartext) throw new CleartextPasswordRefusedError("mysql_clear_password");
    return Buffer.from(`${password}\0`, "utf8");
  };
}

type AuthPlugin = mysql.AuthPlugin;
// mysql2 exports its own plugins (`authPlugins`), though its typings do not say so.
const builtinAuthPlugins = (
  mysqlCore as unknown as { authPlugins: Record<string, (options: object) => AuthPlugin> }
).authPlugins;

/**
 * mysql2's own caching_sha2_password and sha256_password, except that without TLS they refuse to
 * send the password under an RSA key the server supplies (caching_sha2's "perform full
 * authentication", sha256_password always): a host posing as the database would hand out its own key
 * and decrypt the password — cleartext in all but name. Fast authentication (a scramble) is untouched.
 */
function rsaExchangeGuard(
  name: "caching_sha2_password" | "sha256_password",
  overTls: boolean,
  allow: boolean,
): AuthPlugin {
  const plugin = builtinAuthPlugins[name]!({});
  return (context) => {
    const step = plugin(context);
    let answered = 0;
    return (data) => {
      const fullAuthentication =
        name === "sha256_password" || (answered > 0 && data.length === 1 && data[0] === 4);
      if (!overTls && !allow && fullAuthentication)
        throw new CleartextPasswordRefusedError(`${name} without TLS`);
      answered++;
      return step(data);
    };
  };
}

async function open(params: ConnectParams, ssl: ConnectionOptions | undefined): Promise<mysql.Connection> {
  const core = mysqlCore.createConnection({
    ...mysqlEndpoint(params),
    database: params.database,
    user: params.credentials.username,
    password: params.credentials.password,
    connectTimeout: params.connectTimeoutMs,
    ...(ssl ? { ssl: ssl as mysql.SslOptions } : {}),
    authPlugins: {
      // With ssl set, mysql2 fails the connect when the server offers no TLS, so set means TLS.
      mysql_clear_password: clearPasswordPlugin(
        params.credentials.password,
        ssl !== undefined,
        params.engineOptions.allowCleartextPassword,
      ),
      caching_sha2_password: rsaExchangeGuard(
        "caching_sha2_password",
        ssl !== undefined,
        params.engineOptions.allowCleartextPassword,
      ),
      sha256_password: rsaExchangeGuard(
        "sha256_password",
        ssl !== undefined,
        params.engineOptions.allowCleartextPassword,
      ),
    },
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    // JSON as the server's text: parsed and re-serialized it would lose big numbers' precision.
    jsonStrings: true,
  });
  // Listened to from the start, not once connected: a socket (an SSH tunnel) that closes during the
  // handshake makes mysql2 emit a second error after the first failed the connect, and without a
  // listener that one is an uncaught exception in Berth.
  core.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    core.once("connect", () => resolve());
    core.once("error", reject);
  });
  return core.promise();
}

/** Reads one MySQL packet: 3-byte little-endian length, 1-byte sequence, payload. */
async function readPacket(socket: Socket): Promise<Buffer> {
  const header = await readBytes(socket, 4);
  return readBytes(socket, header.readUIntLE(0, 3));
}

export const mysqlDriver: Driver = {
  engine: "mysql",

  async negotiateTls(socket: Socket, options: ConnectionOptions): Promise<TLSSocket | "not_offered"> {
    const greeting = await readPacket(socket);
    if (greeting[0] === 0xff) {
      // An error packet instead of a greeting (host not allowed, too many connections).
      const errno = greeting.readUInt16LE(1);
      const text = greeting
        .subarray(3)
        .toString("utf8")
        .replace(/^#\w{5}/, "");
      throw Object.assign(new Error(text), { errno, code: String(errno) });
    }
    if (greeting[0] !== 10) {
      throw Object.assign(new Error("The server did not send a MySQL greeting; is this a MySQL port?"), {
        code: "PROTOCOL_ERROR",
      });
    }
    // Skip the server version (NUL-terminated), connection id (4), auth data (8) and filler (1).
    const versionEnd = greeting.indexOf(0, 1);
    const capabilities = greeting.readUInt16LE(versionEnd + 1 + 4 + 8 + 1);
    if ((capabilities & CLIENT_SSL) === 0) return "not_offered";
    const request = Buffer.alloc(4 + 32);
    request.writeUIntLE(32, 0, 3);
    request[3] = 1;
    request.writeUInt32LE(
      CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION,
      4,
    );
    request.writeUInt32LE(16 * 1024 * 1024, 8);
    request[12] = 33; // utf8_general_ci
    socket.write(request);
    return startTls(socket, options);
  },

  async connect(params: ConnectParams): Promise<DriverSession> {
    const tls = params.tls.options;
    if (!tls)
      return new MysqlSession(await open(params, undefined), {
        ...params,
        tls: PLAIN,
      });
    try {
      return new MysqlSession(await open(params, tls), params);
    } catch (err) {
      if (params.tls.fallbackToPlain && (err as { code?: string }).code === "HANDSHAKE_NO_SSL_SUPPORT") {
        return new MysqlSession(await open(params, undefined), {
          ...params,
          tls: PLAIN,
        });
      }
      throw err;
    }
  },

  isConnectionError(err: unknown): boolean {
    const e = err as { code?: unknown; fatal?: unknown };
    return (
      e?.fatal === true ||
      ["PROTOCOL_CONNECTION_LOST", "ECONNRESET", "EPIPE", "ETIMEDOUT"].includes(String(e?.code))
    );
  },

  describeError(err: unknown): DriverFailure {
    if (err instanceof CleartextPasswordRefusedError)
      return { reason: CLEARTEXT_PASSWORD_REFUSED, code: "", message: err.message };
    const e = err as { errno?: unknown; code?: unknown };
    const message = safeMessage(err);
    if (typeof e.errno === "number" && ERRNOS[e.errno])
      return { reason: ERRNOS[e.errno]!, code: String(e.errno), message };
    if (typeof e.code === "string" && CLIENT_CODES[e.code])
      return { reason: CLIENT_CODES[e.code]!, code: e.code, message };
    const node = describeNodeError(err);
    if (node) return node;
    if (typeof e.errno === "number") return { reason: "server_error", code: String(e.errno), message };
    return { reason: "unknown", code: typeof e.code === "string" ? e.code : "", message };
  },
};
