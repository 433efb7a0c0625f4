import { createServer, type Socket } from "node:net";

/**
 * A test double of an Oracle listener that knows no services, written from Oracle Net's packet
 * format: to a CONNECT packet (type 1) it answers REFUSE (type 4: 8-byte header, user and system
 * reasons, a 2-byte data length, then the refusal as a descriptor) with ERR=12514 (unknown service)
 * — or 12505 (unknown SID) when the connect data names a SID — as a real listener does. Enough for
 * the real oracledb thin driver to walk its listener path here.
 */
export async function startTnsListenerDouble(): Promise<{
  port: number;
  connects: string[];
  close(): Promise<void>;
}> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const refuse = (err: number) => {
    const data = Buffer.from(
      `(DESCRIPTION=(TMP=)(VSNNUM=385875968)(ERR=${err})(ERROR_STACK=(ERROR=(CODE=${err})(EMFI=4))))`,
      "ascii",
    );
    const p = Buffer.alloc(12 + data.length);
    p.writeUInt16BE(p.length, 0);
    p[4] = 4; // NSPTRF: refuse
    p[8] = 0x22; // user reason
    p[9] = 0x00; // system reason
    p.writeUInt16BE(data.length, 10);
    data.copy(p, 12);
    return p;
  };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let seen = Buffer.alloc(0);
    let answered = false;
    socket.on("data", (chunk) => {
      seen = Buffer.concat([seen, chunk]);
      if (answered || seen.length < 8 || seen.length < seen.readUInt16BE(0)) return;
      answered = true;
      const text = seen.toString("latin1");
      connects.push(text.slice(text.indexOf("(DESCRIPTION")));
      socket.write(refuse(/\(SID=/i.test(text) ? 12505 : 12514));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    connects,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
