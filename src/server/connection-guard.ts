import type { Socket } from "node:net";
import { sourceOf } from "../identity/login-throttle.js";

/** Bounds on what a connection may hold (see config's ConnectionLimits). */
export interface ListenerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnectionsPerSource: number;
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
    /** Registers a new socket; false (and the socket destroyed) when its address has too many. */
    accept(socket: Socket, onClose: () => void): boolean {
      // By address, and an IPv6 client by its /64 (one host's usual share), as sign-in counts them.
      const source = sourceOf(socket.remoteAddress ?? "");
      const open = (perSource.get(source) ?? 0) + 1;
      if (open > limits.maxConnectionsPerSource) {
        socket.destroy();
        return false;
      }
      perSource.set(source, open);
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
        const left = (perSource.get(source) ?? 1) - 1;
        if (left > 0) perSource.set(source, left);
        else perSource.delete(source);
      });
      socket.once("error", () => socket.destroy());
      return true;
    },
  };
}
