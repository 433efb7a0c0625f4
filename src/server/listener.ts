import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  constants as http2Constants,
} from "node:http2";
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type SecureContextOptions, type TLSSocket } from "node:tls";
import { createConnectionGuard, DEFAULT_LIMITS, type ListenerLimits } from "./connection-guard.js";

export type { ListenerLimits } from "./connection-guard.js";

export type RequestHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

/** Sockets handed to the http2 server (their streams finish on GOAWAY; they are not ended early). */
const http2Sockets = new WeakSet<Socket>();

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface Listener {
  readonly port: number;
  /** With TLS: replaces the certificate (and client CA) for new connections; open ones keep theirs. */
  setSecureContext?(options: SecureContextOptions): void;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes everything. */
  close(graceMs: number): Promise<void>;
}

/**
 * One port for everything. A plaintext HTTP/2 server cannot also speak HTTP/1.1 (that needs TLS
 * and ALPN), so a plain TCP server reads the first bytes: the HTTP/2 client preface goes to the
 * http2 server (gRPC, Connect over h2c), anything else to the http1 server (REST, Connect, gRPC-Web).
 */
/** TLS on the listening port: ALPN chooses HTTP/2 or HTTP/1.1, and client certificates are asked for. */
export interface ListenerTls {
  readonly context: SecureContextOptions;
  /** Ask for a client certificate (mutual TLS). */
  readonly requestCert: boolean;
  /** Refuse the handshake without a valid client certificate. */
  readonly requireCert: boolean;
}

export async function listen(
  host: string,
  port: number,
  handler: RequestHandler,
  tls?: ListenerTls,
  limits: ListenerLimits = DEFAULT_LIMITS,
): Promise<Listener> {
  // HTTP/1 keep-alive sockets: the http1 server never listen()s itself, so its own idle tracking
  // (closeIdleConnections) sees nothing; count in-flight requests per socket instead.
  const inFlight = new Map<Socket, number>();
  let closing = false;
  const guard = createConnectionGuard(limits);
  const tracked: RequestHandler = (req, res) => {
    const socket = req.socket as Socket;
    if (!("stream" in req)) {
      guard.served(socket);
      inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
      if (closing) res.setHeader("connection", "close");
      res.once("close", () => {
        const left = (inFlight.get(socket) ?? 1) - 1;
        inFlight.set(socket, left);
        if (closing && left === 0) socket.end();
      });
    }
    handler(req, res);
  };
  const http1 = createHttp1Server(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often those two are checked (node's default, 30 s, would let a late request linger).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    tracked as (req: IncomingMessage, res: ServerResponse) => void,
  );
  http1.keepAliveTimeout = limits.idleTimeoutMs;
  // The http1 server never listen()s, so its own header/request timer never starts: start it here
  // (it sends 408 to a request whose head or body is late, once the connection was handed over).
  http1.emit("listening");
  const http2 = createHttp2Server({}, tracked as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  const sessions = new Set<Http2Session>();
  http2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
    // s.socket is a proxy of the socket (not the same object).
    trackStreams(s, limits, () => guard.servedThroughProxy(s.socket));
  });
  const sockets = guard.sockets;
  const accept = (socket: Socket) => guard.accept(socket, () => inFlight.delete(socket));
  const toHttp2 = (socket: Socket) => {
    http2Sockets.add(socket);
    http2.emit("connection", socket);
  };
  const dispatch = (socket: Socket) =>
    sniff(socket, (isHttp2) => (isHttp2 ? toHttp2(socket) : http1.emit("connection", socket)));
  // With TLS, ALPN says which protocol the client speaks; a client that offers none is sniffed
  // like a plaintext one. The decrypted TLSSocket is handed to the same two servers.
  const tcp: Server = tls
    ? createTlsServer(
        {
          ...tls.context,
          ALPNProtocols: ["h2", "http/1.1"],
          // A handshake is part of the first request: it gets the same bound.
          handshakeTimeout: limits.headersTimeoutMs,
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.requireCert,
        },
        (socket: TLSSocket) => {
          if (!accept(socket)) return;
          if (socket.alpnProtocol === "h2") toHttp2(socket);
          else if (socket.alpnProtocol === "http/1.1") http1.emit("connection", socket);
          else dispatch(socket);
        },
      )
    : createNetServer((socket) => {
        if (accept(socket)) dispatch(socket);
      });
  // A failed handshake (unknown client CA, no certificate when one is required) ends that socket
  // only. Destroyed here: a handshake past handshakeTimeout only raises this event (Node does not
  // close it), so a client that sends nothing or half a ClientHello would hold its socket for good.
  tcp.on("tlsClientError", (_err: Error, socket: Socket) => socket.destroy());
  // With TLS, a connection counts against its source from its first byte, not only once its
  // handshake is done (a listener registered first runs before tls.Server's own).
  if (tls) tcp.prependListener("connection", (raw: Socket) => void guard.beginHandshake(raw));
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });

  return {
    port: (tcp.address() as AddressInfo).port,
    ...(tls
      ? {
          setSecureContext: (options: SecureContextOptions) =>
            (tcp as ReturnType<typeof createTlsServer>).setSecureContext(options),
        }
      : {}),
    async close(graceMs: number) {
      closing = true;
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      // HTTP/2 clients get GOAWAY (their open streams finish); idle HTTP/1 sockets close now, busy
      // ones after their response; whatever is left when the grace period ends is cut.
      for (const s of sessions) s.close();
      for (const socket of sockets)
        if (!http2Sockets.has(socket) && !(inFlight.get(socket) ?? 0)) socket.end();
      const grace = setTimeout(() => {
        for (const s of sessions) s.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(grace);
      http1.close();
      http2.close();
    },
  };
}

/**
 * An HTTP/2 session: its first stream counts as the first request; while no stream is open for
 * idleMs, the session is closed (GOAWAY), but an open stream (a long Session, a watch) keeps it.
 */
function trackStreams(session: Http2Session, limits: ListenerLimits, onFirstStream: () => void): void {
  let open = 0;
  session.on("stream", (stream, headers, flags) => {
    open++;
    onFirstStream();
    stream.once("close", () => open--);
    // A request body that trickles for ever holds the stream (HTTP/1 has requestTimeout for this):
    // unless the call streams its request, the body must be complete within the request timeout.
    const path = String(headers[":path"] ?? "").split("?")[0]!;
    const bodyEnded = (flags & http2Constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    if (bodyEnded || !limits.streamsRequestBody || limits.streamsRequestBody(path)) return;
    const timer = setTimeout(() => stream.close(http2Constants.NGHTTP2_CANCEL), limits.requestTimeoutMs);
    timer.unref();
    stream.once("end", () => clearTimeout(timer));
    stream.once("close", () => clearTimeout(timer));
  });
  session.setTimeout(limits.idleTimeoutMs, () => {
    if (open === 0) session.close();
  });
}

function sniff(socket: Socket, route: (isHttp2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const isPrefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (isPrefix && seen.length < PREFACE.length) return;
    socket.off("data", onData);
    // The sniffed bytes go back into the paused socket's buffer. The http1 server reads them once the
    // socket is resumed; the http2 server reads the native handle itself and replays what is buffered
    // (socket.readableLength) on the next tick, so resuming would hand them to nobody.
    socket.pause();
    socket.unshift(seen);
    route(isPrefix);
    if (!isPrefix) socket.resume();
  };
  socket.on("data", onData);
}
