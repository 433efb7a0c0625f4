import type { Socket } from "node:net";
import { sourceOf } from "../identity/login-throttle.js";

/** Bounds on what a connection may hold (see config's ConnectionLimits). */
export interface ListenerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnectionsPerSource: number;
  /**
   * HTTP/2 requests whose body may stay open for the whole call (streaming RPCs, by path); every
   * other stream's body must end within requestTimeoutMs. Without it, no stream is timed.
   */
  readonly streamsRequestBody?: ((path: string) => boolean) | undefined;
  /** Sources the per-source cap does not apply to (trusted reverse proxies carry many clients). */
  readonly uncapped?: ((peer: string) => boolean) | undefined;
}

export const DEFAULT_LIMITS: ListenerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 65_000,
  maxConnectionsPerSource: 256,
};

const SERVED = Symbol("berth.served");
/** A socket that can say its first request came (reachable through http2's socket proxy). */
type Marked = Socket & { [SERVED]?: () => void };

/**
 * The open sockets of a listener, with two bounds: a connection must send a complete first request
 * head within headersTimeoutMs, whatever it is (silent, half a request line, a partial preface, an
 * HTTP/2 session without a stream), and one address holds at most maxConnectionsPerSource.
 */
export function createConnectionGuard(limits: ListenerLimits) {
  const sockets = new Set<Socket>();
  const firstRequest = new Map<Socket, NodeJS.Timeout>();
  const perSource = new Map<string, number>();
  // TLS connections still in their handshake, per source, and how each one's count is dropped once
  // its TLSSocket is accepted (found by its remote address and port: the same TCP connection).
  const handshaking = new Map<string, number>();
  const handshakeDone = new Map<string, () => void>();
  const adjust = (counts: Map<string, number>, source: string, by: number) => {
    const n = (counts.get(source) ?? 0) + by;
    if (n > 0) counts.set(source, n);
    else counts.delete(source);
  };
  const held = (source: string) => (perSource.get(source) ?? 0) + (handshaking.get(source) ?? 0);
  const overCap = (socket: Socket, source: string) =>
    held(source) + 1 > limits.maxConnectionsPerSource && !limits.uncapped?.(socket.remoteAddress ?? "");
  const tcpKey = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
  const served = (socket: Socket) => {
    const timer = firstRequest.get(socket);
    if (timer) clearTimeout(timer);
    firstRequest.delete(socket);
  };
  return {
    sockets,
    /** The first request arrived: the socket is no longer on the clock. */
    served,
    /** The same, for a socket reached only through an HTTP/2 session's proxy of it. */
    servedThroughProxy(proxy: unknown) {
      (proxy as Marked)[SERVED]?.();
    },
    /**
     * A TLS connection as it arrives, before its handshake: it counts against its source from now
     * (a flood of handshakes that never finish is bounded like open connections), until its TLS
     * socket is accepted or it closes. False (and the socket destroyed) when the source has too many.
     */
    beginHandshake(raw: Socket): boolean {
      const source = sourceOf(raw.remoteAddress ?? "");
      if (overCap(raw, source)) {
        raw.destroy();
        return false;
      }
      adjust(handshaking, source, 1);
      const key = tcpKey(raw);
      let counted = true;
      const done = () => {
        if (!counted) return;
        counted = false;
        adjust(handshaking, source, -1);
        if (handshakeDone.get(key) === done) handshakeDone.delete(key);
      };
      handshakeDone.set(key, done);
      raw.once("close", done);
      return true;
    },
    /** Registers a new socket; false (and the socket destroyed) when its address has too many. */
    accept(socket: Socket, onClose: () => void): boolean {
      handshakeDone.get(tcpKey(socket))?.();
      // By address, and an IPv6 client by its /64 (one host's usual share), as sign-in counts them.
      const source = sourceOf(socket.remoteAddress ?? "");
      if (overCap(socket, source)) {
        socket.destroy();
        return false;
      }
      adjust(perSource, source, 1);
      sockets.add(socket);
      firstRequest.set(
        socket,
        setTimeout(() => socket.destroy(), limits.headersTimeoutMs),
      );
      (socket as Marked)[SERVED] = () => served(socket);
      socket.once("close", () => {
        served(socket);
        sockets.delete(socket);
        onClose();
        adjust(perSource, source, -1);
      });
      socket.once("error", () => socket.destroy());
      return true;
    },
  };
}
