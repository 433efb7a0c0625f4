import type { Socket } from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import pg from "pg";
import type { ConnectParams, Driver, DriverFailure, DriverSession } from "../../drivers/driver.js";
import { describeNodeError, readBytes, safeMessage, startTls } from "../../drivers/failures.js";
import { CLEARTEXT_PASSWORD_REFUSED, CleartextPasswordRefusedError } from "../cleartext-refusal.js";
import { PostgresSession } from "./session.js";

/** SQLSTATEs a connection attempt can end in, in Berth's reasons. */
const SQLSTATES: Record<string, string> = {
  "28P01": "authentication_failed",
  // invalid_authorization_specification: unknown role, or no pg_hba.conf entry for this client.
  "28000": "authentication_failed",
  "3D000": "database_not_found",
  "42501": "permission_denied",
  "53300": "too_many_connections",
  "57P03": "server_starting",
  "57P01": "server_shutting_down",
  "08P01": "protocol_error",
  "08004": "connection_rejected",
  "57014": "cancelled",
  "25P02": "transaction_aborted",
};

// Int32 length 8, then the SSLRequest code 80877103 (PostgreSQL protocol, "SSL Session Encryption").
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const NO_SSL_MESSAGE = "The server does not support SSL connections";

/**
 * pg asks for the password through this function whatever the method (cleartext, MD5, SCRAM), so
 * the connection's own event tells which one the server chose: it fires first, synchronously, and
 * pg calls the function a microtask later. A refusal there makes pg fail the connect before it
 * writes anything; the caller then closes the socket.
 */
function guardedPassword(
  client: pg.Client,
  password: string,
  overTls: boolean,
  allowCleartext: boolean,
): () => Promise<string> {
  let askedInClear = false;
  client.connection.on("authenticationCleartextPassword", () => {
    askedInClear = true;
  });
  return async () => {
    if (askedInClear && !overTls && !allowCleartext)
      throw new CleartextPasswordRefusedError("AuthenticationCleartextPassword");
    return password;
  };
}

/** A connected client and what the server reported at sign-in (ParameterStatus). */
interface Opened {
  client: pg.Client;
  serverParameters: Map<string, string>;
}

async function open(params: ConnectParams, ssl: ConnectionOptions | false): Promise<Opened> {
  let password: () => Promise<string> = async () => params.credentials.password;
  const client = new pg.Client({
    // The checked address; TLS still presents and verifies the name (the plan's servername and
    // checkServerIdentity, which pg passes to tls.connect as they are).
    host: params.address ?? params.host,
    port: params.port,
    database: params.database,
    user: params.credentials.username,
    // Late-bound: the guard needs the client's connection, which exists only once it is built.
    password: () => password(),
    ssl,
    connectionTimeoutMillis: params.connectTimeoutMs,
    application_name: "berth",
    keepAlive: true,
    // Through an SSH tunnel: pg's socket is a channel of the tunnel (pg calls connect() on it).
    ...(params.dial ? { stream: params.dial as unknown as () => import("node:net").Socket } : {}),
  });
  // An error after connect (server restart) must not crash the process; the session marks itself
  // unhealthy and the pool replaces it.
  client.on("error", () => {});
  password = guardedPassword(
    client,
    params.credentials.password,
    ssl !== false,
    params.engineOptions.allowCleartextPassword,
  );
  const serverParameters = new Map<string, string>();
  client.connection.on("parameterStatus", (msg: { parameterName: string; parameterValue: string }) =>
    serverParameters.set(msg.parameterName, msg.parameterValue),
  );
  try {
    await client.connect();
    return { client, serverParameters };
  } catch (err) {
    void client.end().catch(() => {});
    throw err;
  }
}

export const postgresDriver: Driver = {
  engine: "postgresql",

  async negotiateTls(socket: Socket, options: ConnectionOptions): Promise<TLSSocket | "not_offered"> {
    socket.write(SSL_REQUEST);
    const answer = (await readBytes(socket, 1)).toString("latin1");
    if (answer === "N") return "not_offered";
    if (answer !== "S") {
      throw Object.assign(
        new Error("The server did not answer the PostgreSQL SSLRequest; is this a PostgreSQL port?"),
        {
          code: "08P01",
        },
      );
    }
    return startTls(socket, options);
  },

  async connect(params: ConnectParams): Promise<DriverSession> {
    const tls = params.tls.options;
    // Cancel requests go to the same checked address as the session.
    const host = params.address ?? params.host;
    const session = (o: Opened) =>
      new PostgresSession(o.client, host, params.port, o.serverParameters, params.dial);
    if (!tls) return session(await open(params, false));
    try {
      return session(await open(params, tls));
    } catch (err) {
      if (params.tls.fallbackToPlain && err instanceof Error && err.message.includes(NO_SSL_MESSAGE)) {
        return session(await open(params, false));
      }
      throw err;
    }
  },

  isConnectionError(err: unknown): boolean {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === "string" && /^(08|57P0[1-3])/.test(code)) return true;
    const message = err instanceof Error ? err.message : "";
    return (
      (typeof code === "string" && ["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"].includes(code)) ||
      /Connection terminated|not queryable|Client has encountered a connection error/i.test(message)
    );
  },

  describeError(err: unknown): DriverFailure {
    if (err instanceof CleartextPasswordRefusedError)
      return { reason: CLEARTEXT_PASSWORD_REFUSED, code: "", message: err.message };
    const code = (err as { code?: unknown })?.code;
    if (typeof code === "string" && SQLSTATES[code])
      return { reason: SQLSTATES[code], code, message: safeMessage(err) };
    const node = describeNodeError(err);
    if (node) return node;
    const message = safeMessage(err);
    if (/timeout/i.test(message)) return { reason: "timeout", code: "", message };
    if (message.includes(NO_SSL_MESSAGE)) return { reason: "tls_not_offered", code: "", message };
    if (/terminated unexpectedly|Connection terminated/i.test(message)) {
      return { reason: "connection_reset", code: "", message };
    }
    return {
      reason: typeof code === "string" ? "server_error" : "unknown",
      code: typeof code === "string" ? code : "",
      message,
    };
  },
};
