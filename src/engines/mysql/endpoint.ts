import { connect as tcpConnect } from "node:net";
import type { ConnectParams } from "../../drivers/driver.js";

/**
 * Where mysql2 opens its socket. mysql2 takes the TLS server name from `host` alone, so when the
 * target policy resolved the host to a checked address, Berth opens the socket to that address
 * itself (mysql2's `stream` factory) and leaves `host` as the name TLS presents and verifies.
 */
export function mysqlEndpoint(params: Pick<ConnectParams, "host" | "address" | "port" | "dial">): {
  host: string;
  port: number;
  stream?: () => import("node:net").Socket;
} {
  const { address, host, port, dial } = params;
  // Through an SSH tunnel: every socket (the session's, a KILL QUERY's) is a channel of the tunnel.
  if (dial) return { host, port, stream: dial as unknown as () => import("node:net").Socket };
  if (address === undefined || address === host) return { host, port };
  return {
    host,
    port,
    stream: () => {
      const socket = tcpConnect({ host: address, port, noDelay: true, keepAlive: true });
      return socket;
    },
  };
}
