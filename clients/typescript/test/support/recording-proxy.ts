import { connect, createServer, type Socket } from "node:net";

/**
 * A loopback TCP proxy that keeps every byte the client sent: what went over the wire, and when,
 * without parsing HTTP/2 (gRPC messages are not compressed, so a statement's SQL shows up as is).
 */
export async function startRecordingProxy(target: { host: string; port: number }) {
  const sent: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (d: Buffer) => {
      sent.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => client.write(d));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    /** Everything the client has sent so far, as latin1 text (to search for SQL in it). */
    sentText: () => Buffer.concat(sent).toString("latin1"),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
