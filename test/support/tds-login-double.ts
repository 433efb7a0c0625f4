import { createServer, type Socket } from "node:net";

/**
 * A test double of SQL Server's sign-in, written from [MS-TDS]: it answers PRELOGIN (version, and
 * ENCRYPT_NOT_SUP), reads the LOGIN7 packet, and refuses it the way SQL Server does — an ERROR
 * token (number, state, class, message, server name) and a DONE token with DONE_ERROR — with 4060
 * when the database is "nope" and 18456 otherwise. Enough for the real tedious driver to walk its
 * whole sign-in path here; it never accepts a sign-in.
 */
export async function startTdsLoginDouble(): Promise<{
  port: number;
  logins: { user: string; database: string }[];
  close(): Promise<void>;
}> {
  const logins: { user: string; database: string }[] = [];
  const sockets = new Set<Socket>();
  const packet = (type: number, payload: Buffer) => {
    const header = Buffer.alloc(8);
    header[0] = type;
    header[1] = 0x01; // EOM
    header.writeUInt16BE(8 + payload.length, 2);
    header[6] = 1;
    return Buffer.concat([header, payload]);
  };
  const ucs2 = (s: string) => Buffer.from(s, "utf16le");
  const prelogin = () => {
    // VERSION at 11 (6 bytes), ENCRYPTION at 17 (1 byte), terminator.
    const p = Buffer.alloc(11 + 6 + 1);
    p[0] = 0x00;
    p.writeUInt16BE(11, 1);
    p.writeUInt16BE(6, 3);
    p[5] = 0x01;
    p.writeUInt16BE(17, 6);
    p.writeUInt16BE(1, 8);
    p[10] = 0xff;
    p.writeUInt32BE(0x10000fa0, 11); // 16.0.4000
    p[17] = 0x02; // ENCRYPT_NOT_SUP
    return packet(0x04, p);
  };
  const refusal = (number: number, message: string) => {
    const body = Buffer.concat([
      Buffer.from([0, 0, 0, 0]), // number, written below
      Buffer.from([1, 14]), // state 1, class 14
      Buffer.from([message.length & 0xff, message.length >> 8]),
      ucs2(message),
      Buffer.from([6]),
      ucs2("DOUBLE"),
      Buffer.from([0]),
      Buffer.from([0, 0, 0, 0]), // line number
    ]);
    body.writeInt32LE(number, 0);
    const error = Buffer.concat([Buffer.from([0xaa, body.length & 0xff, body.length >> 8]), body]);
    const done = Buffer.alloc(13);
    done[0] = 0xfd;
    done.writeUInt16LE(0x0002, 1); // DONE_ERROR
    return packet(0x04, Buffer.concat([error, done]));
  };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8 && buffered.length >= buffered.readUInt16BE(2)) {
        const length = buffered.readUInt16BE(2);
        const type = buffered[0];
        const payload = buffered.subarray(8, length);
        buffered = buffered.subarray(length);
        if (type === 0x12) socket.write(prelogin());
        else if (type === 0x10) {
          const field = (at: number) =>
            payload
              .subarray(payload.readUInt16LE(at), payload.readUInt16LE(at) + payload.readUInt16LE(at + 2) * 2)
              .toString("utf16le");
          const login = { user: field(40), database: field(68) };
          logins.push(login);
          socket.write(
            login.database === "nope"
              ? refusal(4060, `Cannot open database "nope" requested by the login. The login failed.`)
              : refusal(18456, `Login failed for user '${login.user}'.`),
          );
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    logins,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
