import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import { readBytes } from "../../drivers/failures.js";

/**
 * The start of a TDS 7.x session, enough for the `tls` stage to report on TLS alone ([MS-TDS]
 * 2.2.6.5 PRELOGIN): the client says it wants encryption, the server answers what it will do, and
 * the TLS handshake then travels inside TDS PRELOGIN packets rather than on the bare socket.
 */
const PACKET_PRELOGIN = 0x12;
const PACKET_TABULAR_RESULT = 0x04;
const STATUS_EOM = 0x01;
const HEADER_BYTES = 8;
const OPTION_VERSION = 0x00;
const OPTION_ENCRYPTION = 0x01;
const OPTION_TERMINATOR = 0xff;

/** [MS-TDS] ENCRYPTION option values. */
export const ENCRYPTION = { OFF: 0x00, ON: 0x01, NOT_SUP: 0x02, REQ: 0x03 } as const;

function packet(type: number, payload: Buffer, packetId = 1): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = type;
  header[1] = STATUS_EOM;
  header.writeUInt16BE(HEADER_BYTES + payload.length, 2);
  header[6] = packetId & 0xff;
  return Buffer.concat([header, payload]);
}

/** A PRELOGIN request: VERSION (6 bytes of zeros is allowed for a client) and ENCRYPTION. */
export function preloginRequest(encryption: number): Buffer {
  const optionTable = 2 * 5 + 1;
  const payload = Buffer.alloc(optionTable + 6 + 1);
  payload[0] = OPTION_VERSION;
  payload.writeUInt16BE(optionTable, 1);
  payload.writeUInt16BE(6, 3);
  payload[5] = OPTION_ENCRYPTION;
  payload.writeUInt16BE(optionTable + 6, 6);
  payload.writeUInt16BE(1, 8);
  payload[10] = OPTION_TERMINATOR;
  payload[optionTable + 6] = encryption;
  return packet(PACKET_PRELOGIN, payload);
}

/** The ENCRYPTION byte of a PRELOGIN response payload; throws if the payload is not one. */
export function encryptionOf(payload: Buffer): number {
  for (let at = 0; at + 5 <= payload.length && payload[at] !== OPTION_TERMINATOR; at += 5) {
    if (payload[at] === OPTION_ENCRYPTION) {
      const offset = payload.readUInt16BE(at + 1);
      if (offset < payload.length) return payload[offset]!;
    }
  }
  throw notTds("The PRELOGIN response has no ENCRYPTION option");
}

function notTds(message: string): Error {
  return Object.assign(new Error(`${message}; is this a SQL Server port?`), { code: "EPROTOCOL" });
}

async function readPacket(socket: Socket): Promise<{ type: number; payload: Buffer }> {
  const header = await readBytes(socket, HEADER_BYTES);
  const length = header.readUInt16BE(2);
  if (length < HEADER_BYTES) throw notTds("The server sent a malformed TDS packet");
  return { type: header[0]!, payload: await readBytes(socket, length - HEADER_BYTES) };
}

/**
 * Carries TLS records inside TDS PRELOGIN packets, as SQL Server expects during the handshake:
 * writes are wrapped, and what arrives is unwrapped before node's TLS sees it.
 */
class TdsWrapped extends Duplex {
  #buffer = Buffer.alloc(0);
  #packetId = 1;

  constructor(private readonly socket: Socket) {
    super();
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("end", () => this.push(null));
    socket.on("error", (err) => this.destroy(err));
    socket.resume();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= HEADER_BYTES) {
      const length = this.#buffer.readUInt16BE(2);
      if (length < HEADER_BYTES) {
        this.destroy(notTds("The server sent a malformed TDS packet"));
        return;
      }
      if (this.#buffer.length < length) return;
      this.push(this.#buffer.subarray(HEADER_BYTES, length));
      this.#buffer = this.#buffer.subarray(length);
    }
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#packetId = (this.#packetId + 1) & 0xff;
    this.socket.write(packet(PACKET_PRELOGIN, chunk, this.#packetId), done);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }
}

/**
 * PRELOGIN, then the TLS handshake inside TDS. "not_offered" when the server says ENCRYPT_NOT_SUP.
 * TLS 1.2 at most, as tedious negotiates it in this mode (older servers refuse 1.3 inside TDS 7).
 */
export async function negotiateTdsTls(
  socket: Socket,
  options: ConnectionOptions,
): Promise<TLSSocket | "not_offered"> {
  socket.write(preloginRequest(ENCRYPTION.ON));
  const response = await readPacket(socket);
  if (response.type !== PACKET_TABULAR_RESULT) throw notTds("The server did not answer PRELOGIN");
  const encryption = encryptionOf(response.payload);
  if (encryption === ENCRYPTION.NOT_SUP || encryption === ENCRYPTION.OFF) {
    // OFF: the server would encrypt the login packet only; Berth treats that as no TLS.
    return "not_offered";
  }
  const wrapped = new TdsWrapped(socket);
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, maxVersion: "TLSv1.2", socket: wrapped as unknown as Socket });
    secure.once("secureConnect", () => {
      secure.off("error", reject);
      resolve(secure);
    });
    secure.once("error", reject);
  });
}
