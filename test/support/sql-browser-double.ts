import { createSocket } from "node:dgram";

/**
 * A test double of the SQL Server Browser, written from [MC-SQLR]: it answers CLNT_UCAST_INST
 * (0x04 + instance name) and CLNT_BCAST_EX / CLNT_UCAST_EX (0x02 / 0x03, all instances) with
 * SVR_RESP (0x05, a 2-byte length, "ServerName;...;tcp;PORT;;"), and stays silent for an unknown
 * instance, as the real service does.
 */
export async function startSqlBrowserDouble(instances: Record<string, number>, port = 0) {
  const socket = createSocket("udp4");
  const record = (name: string, port: number) =>
    `ServerName;BERTHTEST;InstanceName;${name};IsClustered;No;Version;16.0.1000.6;tcp;${port};;`;
  const reply = (text: string) =>
    Buffer.concat([Buffer.from([0x05, text.length & 0xff, text.length >> 8]), Buffer.from(text, "latin1")]);
  socket.on("message", (msg, from) => {
    // CLNT_BCAST_EX (0x02) and CLNT_UCAST_EX (0x03): every instance; tedious sends 0x02.
    if (msg[0] === 0x02 || msg[0] === 0x03) {
      const all = Object.entries(instances).map(([n, p]) => record(n, p));
      socket.send(reply(all.join("")), from.port, from.address);
      return;
    }
    // CLNT_UCAST_INST (0x04): one named instance; silence when it is unknown.
    if (msg[0] !== 0x04) return;
    const name = msg.subarray(1).toString("latin1").replace(/\0+$/, "");
    const port = Object.entries(instances).find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
    if (port !== undefined) socket.send(reply(record(name, port)), from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return { port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}
