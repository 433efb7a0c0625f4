import { createServer, type Socket, connect as tcpConnect } from "node:net";

export type ProxyMode = "forward" | "blackhole";

/**
 * A TCP proxy for fault injection, on loopback. `forward` relays both ways; `blackhole` accepts and
 * keeps every connection but silently drops all traffic, in both directions — a network that
 * swallows packets, the failure that makes clients hang.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  let mode: ProxyMode = "forward";
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    client.on("close", () => sockets.delete(client));
    if (mode === "blackhole") {
      client.on("data", () => {});
      return;
    }
    const upstream = tcpConnect(target);
    sockets.add(upstream);
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on("close", () => upstream.destroy());
    client.on("data", (d) => {
      if (mode === "forward") upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (mode === "forward") client.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    setMode(m: ProxyMode) {
      mode = m;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
