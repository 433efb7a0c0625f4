import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

/** Listens on a free loopback port and closes every accepted socket on close(). */
async function listenTracked(server: Server): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TCP server that accepts connections and never says a word: the worst kind of database. */
export function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  return listenTracked(createServer());
}

/**
 * A TLS listener that completes handshakes with a certificate from `makeCertificates` and then
 * says nothing: what a TCPS or TDS 8.0 port looks like to a client that does not trust its CA.
 */
export function startTlsListener(certFile: string, keyFile: string) {
  const server = createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (s) =>
    s.on("error", () => {}),
  );
  server.on("tlsClientError", () => {});
  return listenTracked(server);
}
