import { type Socket, connect as tcpConnect } from "node:net";

/**
 * A PostgreSQL front-door client at the byte level, for what no driver would send: it writes the
 * bytes it is given and keeps every byte the server sends, and when the server closed.
 */
export class RawPgSocket {
  readonly socket: Socket;
  #received: Buffer[] = [];
  #closedAt: number | undefined;
  readonly #openedAt = Date.now();
  readonly #watchers = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      this.#received.push(d);
      this.#notify();
    });
    socket.on("close", () => {
      this.#closedAt = Date.now();
      this.#notify();
    });
    // A reset is a way of closing; the close event follows.
    socket.on("error", () => {});
  }

  static open(port: number, host = "127.0.0.1", localAddress?: string): Promise<RawPgSocket> {
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ host, port, ...(localAddress ? { localAddress } : {}) });
      s.once("connect", () => resolve(new RawPgSocket(s)));
      s.once("error", reject);
    });
  }

  #notify(): void {
    for (const w of this.#watchers) w();
  }

  send(...parts: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(parts));
  }

  /** Every byte the server sent so far. */
  get received(): Buffer {
    return Buffer.concat(this.#received);
  }

  get closed(): boolean {
    return this.#closedAt !== undefined;
  }

  /** Milliseconds from opening to the server's close (undefined while open). */
  get openFor(): number | undefined {
    return this.#closedAt === undefined ? undefined : this.#closedAt - this.#openedAt;
  }

  /** Resolves when `probe` holds of the bytes received (checked at each arrival and at close). */
  waitFor(
    what: string,
    probe: (received: Buffer, closed: boolean) => boolean,
    timeoutMs = 5_000,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!probe(this.received, this.closed)) return;
        this.#watchers.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(check);
        reject(
          new Error(
            `not within ${timeoutMs} ms: ${what} (received ${JSON.stringify(this.received.toString("latin1").slice(0, 300))}, closed: ${this.closed})`,
          ),
        );
      }, timeoutMs);
      this.#watchers.add(check);
      check();
    });
  }

  /** Resolves once the server closed the connection; fails the test past `timeoutMs`. */
  closedWithin(timeoutMs = 5_000): Promise<void> {
    return this.waitFor("the server to close the connection", (_r, closed) => closed, timeoutMs);
  }

  /** The server's typed messages from `offset` on (after a one-byte SSL/GSSENC answer, say). */
  messages(offset = 0): { type: string; body: Buffer }[] {
    return parseMessages(this.received.subarray(offset));
  }

  /** The fields of the first ErrorResponse the server sent, by their one-letter codes. */
  error(offset = 0): Map<string, string> | undefined {
    const e = this.messages(offset).find((m) => m.type === "E");
    return e ? errorFields(e.body) : undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Whole backend messages (type byte, Int32 length counting itself, body); a partial tail is left out. */
export function parseMessages(bytes: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= bytes.length) {
    const length = bytes.readInt32BE(at + 1);
    if (length < 4 || at + 1 + length > bytes.length) break;
    out.push({ type: String.fromCharCode(bytes[at]!), body: bytes.subarray(at + 5, at + 1 + length) });
    at += 1 + length;
  }
  return out;
}

/** An ErrorResponse's or NoticeResponse's fields: S severity, C SQLSTATE, M message, D detail, H hint. */
export function errorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    out.set(String.fromCharCode(body[at]!), body.toString("utf8", at + 1, end));
    at = end + 1;
  }
  return out;
}

/** A frontend message: type byte, Int32 length (counting itself), body. `length` overrides the true one. */
export function frontendMessage(
  type: string | number,
  body: Buffer = Buffer.alloc(0),
  length?: number,
): Buffer {
  const head = Buffer.alloc(5);
  head[0] = typeof type === "number" ? type : type.charCodeAt(0);
  head.writeInt32BE(length ?? 4 + body.length, 1);
  return Buffer.concat([head, body]);
}

/** A startup-phase packet: Int32 length (counting itself), Int32 code, the rest. `length` overrides. */
export function untypedPacket(code: number, rest: Buffer = Buffer.alloc(0), length?: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(length ?? 8 + rest.length, 0);
  head.writeInt32BE(code, 4);
  return Buffer.concat([head, rest]);
}

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** A CancelRequest for this process id and secret key. */
export function cancelRequest(processId: number, secretKey: number): Buffer {
  const rest = Buffer.alloc(8);
  rest.writeInt32BE(processId, 0);
  rest.writeInt32BE(secretKey, 4);
  return untypedPacket(CANCEL_REQUEST_CODE, rest);
}

/** A SASLInitialResponse: the mechanism, then Int32 length and the client-first-message. */
export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const d = Buffer.from(data, "utf8");
  const len = Buffer.alloc(4);
  len.writeInt32BE(d.length, 0);
  return frontendMessage("p", Buffer.concat([Buffer.from(`${mechanism}\0`, "utf8"), len, d]));
}

/** A PasswordMessage carrying a cleartext password. */
export function passwordMessage(password: string): Buffer {
  return frontendMessage("p", Buffer.from(`${password}\0`, "utf8"));
}

/** The authentication request code of the first AuthenticationXXX message (3 cleartext, 10 SASL). */
export function authCode(bytes: Buffer): number | undefined {
  const r = parseMessages(bytes).find((m) => m.type === "R");
  return r ? r.body.readInt32BE(0) : undefined;
}
