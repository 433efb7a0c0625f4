import { createServer, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";

/**
 * Reads exact byte counts from a stream, for the fake database servers. Every byte read is also
 * handed to `record`, so a fake can keep everything a client sent it (after TLS, in plain).
 */
export class ByteReader {
  #buffer = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #ended: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.record(chunk);
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#serve();
  };

  constructor(
    readonly stream: Duplex,
    readonly record: (chunk: Buffer) => void,
  ) {
    stream.on("data", this.#onData);
    const end = () => {
      this.#ended = new Error("client closed the connection");
      this.#serve();
    };
    stream.once("end", end);
    stream.once("close", end);
    stream.on("error", () => end());
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#serve();
    });
  }

  /** Stops reading and returns what was read but not consumed (a TLS upgrade takes over from here). */
  detach(): Buffer {
    this.stream.off("data", this.#onData);
    this.stream.pause();
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }

  #serve(): void {
    const want = this.#want;
    if (!want) return;
    if (this.#buffer.length >= want.n) {
      this.#want = undefined;
      const out = this.#buffer.subarray(0, want.n);
      this.#buffer = this.#buffer.subarray(want.n);
      want.resolve(out);
    } else if (this.#ended) {
      this.#want = undefined;
      want.reject(this.#ended);
    }
  }
}

/** Listens on a free loopback port; close() destroys every accepted socket. */
export async function listenOnLoopback(
  onSocket: (socket: Socket) => void,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Continues a connection in TLS as its server. A client may send its ClientHello right behind the
 * request to upgrade (MySQL's does), so bytes already read are fed to TLS first, through a duplex
 * (a TLSSocket over the socket itself would read only from the handle and lose them).
 */
export function upgradeToTls(
  reader: ByteReader,
  socket: Socket,
  tls: { cert: string; key: string },
  record: (chunk: Buffer) => void,
): { reader: ByteReader; stream: TLSSocket } {
  const leftover = reader.detach();
  const raw = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  if (leftover.length > 0) raw.push(leftover);
  socket.on("data", (c: Buffer) => {
    if (!raw.push(c)) socket.pause();
  });
  socket.once("end", () => raw.push(null));
  socket.once("close", () => raw.destroy());
  const stream = new TLSSocket(raw, { isServer: true, cert: tls.cert, key: tls.key });
  stream.on("error", () => socket.destroy());
  return { reader: new ByteReader(stream, record), stream };
}
