import { createSocket } from "node:dgram";

/**
 * The SQL Server Browser's answer for one named instance ([MC-SQLR] CLNT_UCAST_INST, SVR_RESP):
 * the client sends 0x04 and the instance name to UDP 1434; the server answers 0x05, a 2-byte
 * length, and "ServerName;X;InstanceName;Y;IsClustered;No;Version;16.0;tcp;49172;;".
 */
export const BROWSER_PORT = 1434;

export function instanceRequest(instance: string): Buffer {
  return Buffer.concat([Buffer.from([0x04]), Buffer.from(instance, "latin1"), Buffer.from([0])]);
}

/** The TCP port of `instance` in a SVR_RESP message, or undefined if it lists none for it. */
export function portFromResponse(message: Buffer, instance: string): number | undefined {
  if (message[0] !== 0x05 || message.length < 3) return undefined;
  const text = message.subarray(3, 3 + message.readUInt16LE(1)).toString("latin1");
  for (const record of text.split(";;")) {
    const parts = record.split(";");
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < parts.length; i += 2) fields.set(parts[i]!.toLowerCase(), parts[i + 1]!);
    if (fields.get("instancename")?.toLowerCase() !== instance.toLowerCase()) continue;
    const port = Number(fields.get("tcp"));
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  }
  return undefined;
}

export class InstanceLookupError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Asks the Browser on `host` for the port of `instance`; retries once, as UDP may drop. */
export function lookupInstancePort(
  host: string,
  instance: string,
  timeoutMs: number,
  browserPort = BROWSER_PORT,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    const request = instanceRequest(instance);
    let attempts = 0;
    const send = () => {
      attempts++;
      socket.send(request, browserPort, host);
    };
    const finish = (err: Error | undefined, port?: number) => {
      clearInterval(retry);
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(port!);
    };
    const retry = setInterval(() => attempts < 2 && send(), Math.max(50, timeoutMs / 3));
    const timer = setTimeout(
      () =>
        finish(
          new InstanceLookupError(
            `The SQL Server Browser on ${host} (UDP ${browserPort}) did not answer for instance "${instance}" within ${timeoutMs} ms`,
            "EINSTLOOKUP",
          ),
        ),
      timeoutMs,
    );
    socket.on("message", (message) => {
      const port = portFromResponse(message, instance);
      if (port === undefined)
        finish(
          new InstanceLookupError(
            `The SQL Server Browser on ${host} does not list a TCP port for instance "${instance}"`,
            "EINSTNOTFOUND",
          ),
        );
      else finish(undefined, port);
    });
    socket.on("error", (err) => finish(err));
    send();
  });
}
