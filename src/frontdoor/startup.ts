import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";
import {
  CANCEL_REQUEST,
  errorResponse,
  GSSENC_REQUEST,
  PROTOCOL_3_0,
  readStartupParameters,
  SSL_REQUEST,
} from "./wire.js";

/** A startup packet is small; anything longer is not a PostgreSQL client. */
const MAX_STARTUP_BYTES = 10_000;

/** Reads whole messages from a socket before the client is attached (startup, authentication). */
export class MessageReader {
  #buffered: Buffer[] = [];
  #bytes = 0;
  #waiter: (() => void) | undefined;
  #ended = false;
  readonly #onData = (chunk: Buffer) => {
    this.#buffered.push(chunk);
    this.#bytes += chunk.length;
    this.#waiter?.();
  };
  readonly #onEnd = () => {
    this.#ended = true;
    this.#waiter?.();
  };

  constructor(readonly socket: Socket) {
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
  }

  async #need(n: number): Promise<Buffer | undefined> {
    while (this.#bytes < n) {
      if (this.#ended || this.socket.destroyed) return undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
      this.#waiter = undefined;
    }
    const all = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
    this.#buffered = all.length > n ? [all.subarray(n)] : [];
    this.#bytes = all.length - n;
    return all.subarray(0, n);
  }

  /** The startup phase's packets: Int32 length (counting itself), then the body. */
  async untyped(max = MAX_STARTUP_BYTES): Promise<Buffer | undefined> {
    const head = await this.#need(4);
    if (!head) return undefined;
    const length = head.readInt32BE(0);
    if (length < 8 || length > max) throw new ProtocolError(`a startup packet of ${length} bytes`);
    return this.#need(length - 4);
  }

  /** A typed message (during authentication: PasswordMessage / SASL responses). */
  async typed(max = MAX_STARTUP_BYTES): Promise<{ type: number; body: Buffer } | undefined> {
    const head = await this.#need(5);
    if (!head) return undefined;
    const length = head.readInt32BE(1);
    if (length < 4 || length > max) throw new ProtocolError(`a message of ${length} bytes`);
    const body = await this.#need(length - 4);
    return body ? { type: head[0]!, body } : undefined;
  }

  /** Stops reading; answers what was read past the last whole message (the client's first queries). */
  detach(): Buffer[] {
    this.socket.removeListener("data", this.#onData);
    this.socket.removeListener("end", this.#onEnd);
    this.socket.removeListener("close", this.#onEnd);
    const rest = this.#buffered;
    this.#buffered = [];
    return rest;
  }
}

export class ProtocolError extends Error {}

export type Startup =
  | { kind: "startup"; socket: Socket; reader: MessageReader; params: Map<string, string>; tls: boolean }
  | { kind: "cancel"; processId: number; secretKey: number };

/**
 * The startup phase: SSLRequest (answered S with Berth's certificate when TLS is configured, N
 * otherwise), GSSENCRequest (always N), CancelRequest, then the StartupMessage of protocol 3.0.
 */
export interface FrontDoorTls {
  readonly context: SecureContext;
  /** Ask for a client certificate (a client CA is configured). */
  readonly requestCert: boolean;
  /** Refuse the handshake without a valid one. */
  readonly requireCert: boolean;
}

export async function readStartup(
  socket: Socket,
  tls: () => FrontDoorTls | undefined,
): Promise<Startup | undefined> {
  let reader = new MessageReader(socket);
  let current: Socket = socket;
  let encrypted = false;
  for (let round = 0; round < 3; round++) {
    const body = await reader.untyped();
    if (!body) return undefined;
    const code = body.readInt32BE(0);
    if (code === CANCEL_REQUEST && body.length === 12)
      return { kind: "cancel", processId: body.readInt32BE(4), secretKey: body.readInt32BE(8) };
    if (code === SSL_REQUEST && !encrypted) {
      const context = tls();
      // Bytes sent before the answer were never protected by TLS and may have been injected
      // (CVE-2021-23214): refused, as PostgreSQL refuses them, rather than dropped and waited on.
      if (reader.detach().length > 0) throw new ProtocolError("received unencrypted data after SSL request");
      current.write(context ? "S" : "N");
      if (context) {
        current = await upgrade(current, context);
        encrypted = true;
      }
      reader = new MessageReader(current);
      continue;
    }
    if (code === GSSENC_REQUEST) {
      current.write("N");
      continue;
    }
    if (code !== PROTOCOL_3_0) {
      current.end(
        errorResponse({
          severity: "FATAL",
          code: "0A000",
          message: `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: Berth speaks protocol 3.0`,
        }),
      );
      return undefined;
    }
    const params = readStartupParameters(body.subarray(4));
    if (!params) throw new ProtocolError("a malformed startup packet");
    return { kind: "startup", socket: current, reader, params, tls: encrypted };
  }
  throw new ProtocolError("too many startup requests");
}

/** TLS on an accepted socket, as the server side; resolves once the handshake is done. */
function upgrade(socket: Socket, tls: FrontDoorTls): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: tls.context,
      requestCert: tls.requestCert,
      rejectUnauthorized: tls.requireCert,
    });
    secure.once("secure", () => {
      if (tls.requestCert && !checkClientCertificate(secure, tls.requireCert)) {
        secure.destroy();
        reject(new ProtocolError("the client certificate was not signed by the client CA"));
        return;
      }
      resolve(secure);
    });
    secure.once("error", reject);
    secure.once("close", () => reject(new ProtocolError("the TLS handshake did not complete")));
  });
}

/**
 * Sets `authorized` as a tls.Server does for the sockets it handshakes: Node checks the client
 * certificate against the client CA (onServerSocketSecure) only for those, so a TLSSocket made
 * by hand with isServer (the SSLRequest upgrade) reports even a good certificate as unauthorized
 * and lets a bad one through `rejectUnauthorized`. Node's own verdict is read where that check
 * reads it; without it nothing is authorized. False when the handshake must be refused.
 */
function checkClientCertificate(secure: TLSSocket, required: boolean): boolean {
  const handle = (secure as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  const error = typeof handle?.verifyError === "function" ? handle.verifyError() : new Error("cannot verify");
  if (!error) {
    secure.authorized = true;
    return true;
  }
  secure.authorized = false;
  secure.authorizationError = error;
  return !required;
}
