import { randomInt } from "node:crypto";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ByteReader, listenOnLoopback, upgradeToTls } from "./byte-reader.js";

/**
 * A fake MySQL server that records everything a client sends it, written from MySQL's protocol
 * documentation (Protocol::HandshakeV10, HandshakeResponse41, AuthSwitchRequest, OK/ERR/EOF
 * packets, the text resultset). It greets with the configured plugin, can ask the client to switch
 * to another one (mysql_clear_password, to test refusal), and can let it in and answer queries.
 */
export type MysqlPlugin = "mysql_native_password" | "caching_sha2_password" | "mysql_clear_password";

export interface RecordingMysqlOptions {
  /** The plugin named in the greeting. */
  plugin: "mysql_native_password" | "caching_sha2_password";
  /** After the HandshakeResponse41, an AuthSwitchRequest to this plugin. */
  switchTo?: MysqlPlugin;
  /** Let any password in (OK, then queries); default: ERR 1045. */
  accept?: boolean;
  /**
   * With switchTo caching_sha2_password: after the client's scramble, ask for full authentication
   * (AuthMoreData 0x04), as a server without the account in its cache does, and record the answer.
   */
  fullAuthentication?: boolean;
  /** PEM certificate and key: CLIENT_SSL is offered and an SSLRequest upgrades the connection. */
  tls?: { cert: string; key: string };
  serverVersion?: string;
}

export interface MysqlRecording {
  connections: number;
  sslRequests: number;
  /** HandshakeResponse41 packets: user, auth response bytes and the plugin the client named. */
  handshakes: { user: string; authResponse: Buffer; plugin: string; database: string; tls: boolean }[];
  /** Answers to an AuthSwitchRequest: the plugin asked for and the bytes the client sent back. */
  authSwitchResponses: { plugin: MysqlPlugin; data: Buffer; tls: boolean }[];
  queries: string[];
}

export interface RecordingMysqlServer {
  readonly port: number;
  readonly recording: MysqlRecording;
  received(): Buffer;
  sawText(text: string): boolean;
  close(): Promise<void>;
}

const CLIENT = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
};
const SERVER_STATUS_AUTOCOMMIT = 0x0002;
const COM_QUIT = 0x01;
const COM_QUERY = 0x03;

export async function startRecordingMysql(options: RecordingMysqlOptions): Promise<RecordingMysqlServer> {
  const chunks: Buffer[] = [];
  const recording: MysqlRecording = {
    connections: 0,
    sslRequests: 0,
    handshakes: [],
    authSwitchResponses: [],
    queries: [],
  };
  const record = (c: Buffer) => chunks.push(Buffer.from(c));
  let nextThread = 1;
  const listener = await listenOnLoopback((socket) => {
    recording.connections++;
    void serve(socket, options, recording, record, nextThread++).catch(() => socket.destroy());
  });
  return {
    port: listener.port,
    recording,
    received: () => Buffer.concat(chunks),
    sawText: (text) => Buffer.concat(chunks).includes(Buffer.from(text, "utf8")),
    close: listener.close,
  };
}

interface Conn {
  reader: ByteReader;
  stream: Socket | TLSSocket;
  tls: boolean;
}

async function serve(
  socket: Socket,
  options: RecordingMysqlOptions,
  recording: MysqlRecording,
  record: (c: Buffer) => void,
  threadId: number,
): Promise<void> {
  const c: Conn = { reader: new ByteReader(socket, record), stream: socket, tls: false };
  // 20 bytes of scramble without NULs, as servers make them.
  const scramble = Buffer.from(Array.from({ length: 20 }, () => randomInt(1, 128)));
  c.stream.write(packet(0, greeting(options, scramble, threadId)));
  let { seq, payload } = await readPacket(c.reader);
  let flags = payload.readUInt32LE(0);
  if (payload.length === 32 && flags & CLIENT.SSL && options.tls) {
    // An SSLRequest: the rest of the handshake continues inside TLS.
    recording.sslRequests++;
    ({ reader: c.reader, stream: c.stream } = upgradeToTls(c.reader, socket, options.tls, record));
    c.tls = true;
    ({ seq, payload } = await readPacket(c.reader));
    flags = payload.readUInt32LE(0);
  }
  const response = parseHandshakeResponse(payload, flags);
  recording.handshakes.push({ ...response, tls: c.tls });
  if (options.switchTo) {
    seq++;
    c.stream.write(
      packet(
        seq,
        Buffer.concat([Buffer.from([0xfe]), cstring(options.switchTo), scramble, Buffer.from([0])]),
      ),
    );
    const answer = await readPacket(c.reader);
    seq = answer.seq;
    recording.authSwitchResponses.push({ plugin: options.switchTo, data: answer.payload, tls: c.tls });
    if (options.fullAuthentication) {
      c.stream.write(packet(seq + 1, Buffer.from([0x01, 0x04])));
      const more = await readPacket(c.reader);
      seq = more.seq;
      recording.authSwitchResponses.push({ plugin: options.switchTo, data: more.payload, tls: c.tls });
    }
  } else if (options.accept && response.plugin === "caching_sha2_password") {
    // AuthMoreData: fast_auth_success (the scramble matched the server's cache).
    seq++;
    c.stream.write(packet(seq, Buffer.from([0x01, 0x03])));
  }
  if (!options.accept) {
    c.stream.end(packet(seq + 1, errPacket(1045, "28000", `Access denied for user '${response.user}'`)));
    return;
  }
  c.stream.write(packet(seq + 1, okPacket()));
  await runCommands(c, options, recording);
}

async function runCommands(
  c: Conn,
  options: RecordingMysqlOptions,
  recording: MysqlRecording,
): Promise<void> {
  const version = options.serverVersion ?? "8.0.36-recording-fake";
  for (;;) {
    const { payload } = await readPacket(c.reader);
    const command = payload[0];
    if (command === COM_QUIT) {
      c.stream.end();
      return;
    }
    if (command === COM_QUERY) {
      recording.queries.push(payload.subarray(1).toString("utf8"));
      c.stream.write(textResultset(version));
    } else {
      // COM_PING, COM_RESET_CONNECTION, COM_INIT_DB and the rest: OK is enough for a fake.
      c.stream.write(packet(1, okPacket()));
    }
  }
}

function greeting(options: RecordingMysqlOptions, scramble: Buffer, threadId: number): Buffer {
  const caps =
    CLIENT.LONG_PASSWORD |
    CLIENT.FOUND_ROWS |
    CLIENT.LONG_FLAG |
    CLIENT.CONNECT_WITH_DB |
    CLIENT.PROTOCOL_41 |
    (options.tls ? CLIENT.SSL : 0) |
    CLIENT.TRANSACTIONS |
    CLIENT.SECURE_CONNECTION |
    CLIENT.MULTI_STATEMENTS |
    CLIENT.MULTI_RESULTS |
    CLIENT.PLUGIN_AUTH |
    CLIENT.CONNECT_ATTRS |
    CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA;
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = fixed.writeUInt32LE(threadId, 0);
  o += scramble.copy(fixed, o, 0, 8);
  o = fixed.writeUInt8(0, o);
  o = fixed.writeUInt16LE(caps & 0xffff, o);
  o = fixed.writeUInt8(45, o); // utf8mb4_general_ci
  o = fixed.writeUInt16LE(SERVER_STATUS_AUTOCOMMIT, o);
  o = fixed.writeUInt16LE(caps >>> 16, o);
  fixed.writeUInt8(21, o); // auth-plugin-data length: 20 bytes and a NUL; then 10 reserved zeros
  return Buffer.concat([
    Buffer.from([10]),
    cstring(options.serverVersion ?? "8.0.36-recording-fake"),
    fixed,
    scramble.subarray(8),
    Buffer.from([0]),
    cstring(options.plugin),
  ]);
}

function parseHandshakeResponse(p: Buffer, flags: number) {
  let o = 4 + 4 + 1 + 23;
  const userEnd = p.indexOf(0, o);
  const user = p.subarray(o, userEnd).toString("utf8");
  o = userEnd + 1;
  let authResponse: Buffer;
  if (flags & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    const { value, size } = lenenc(p, o);
    authResponse = p.subarray(o + size, o + size + value);
    o += size + value;
  } else if (flags & CLIENT.SECURE_CONNECTION) {
    authResponse = p.subarray(o + 1, o + 1 + p[o]!);
    o += 1 + p[o]!;
  } else {
    const end = p.indexOf(0, o);
    authResponse = p.subarray(o, end);
    o = end + 1;
  }
  let database = "";
  if (flags & CLIENT.CONNECT_WITH_DB && o < p.length) {
    const end = p.indexOf(0, o);
    database = p.subarray(o, end).toString("utf8");
    o = end + 1;
  }
  let plugin = "";
  if (flags & CLIENT.PLUGIN_AUTH && o < p.length) plugin = p.subarray(o, p.indexOf(0, o)).toString("utf8");
  return { user, authResponse: Buffer.from(authResponse), plugin, database };
}

/** Column count, one VAR_STRING column `v`, EOF, one row holding `value`, EOF (no CLIENT_DEPRECATE_EOF). */
function textResultset(value: string): Buffer {
  const column = Buffer.concat([
    lenencString("def"),
    lenencString(""),
    lenencString(""),
    lenencString(""),
    lenencString("v"),
    lenencString("v"),
    Buffer.from([0x0c, 45, 0, 0xff, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0]),
  ]);
  const eof = Buffer.from([0xfe, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0]);
  return Buffer.concat([
    packet(1, Buffer.from([1])),
    packet(2, column),
    packet(3, eof),
    packet(4, lenencString(value)),
    packet(5, eof),
  ]);
}

function okPacket(): Buffer {
  // header, affected rows 0, last insert id 0, status, warnings, and an empty info string.
  return Buffer.from([0x00, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, 0, 0, 0]);
}

function errPacket(errno: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}${message}`, "utf8")]);
}

async function readPacket(reader: ByteReader): Promise<{ seq: number; payload: Buffer }> {
  const header = await reader.read(4);
  return { seq: header[3]!, payload: await reader.read(header.readUIntLE(0, 3)) };
}

function packet(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

function lenenc(b: Buffer, o: number): { value: number; size: number } {
  const first = b[o]!;
  if (first < 0xfb) return { value: first, size: 1 };
  if (first === 0xfc) return { value: b.readUInt16LE(o + 1), size: 3 };
  if (first === 0xfd) return { value: b.readUIntLE(o + 1, 3), size: 4 };
  return { value: Number(b.readBigUInt64LE(o + 1)), size: 9 };
}

function lenencString(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  if (b.length >= 0xfb) throw new Error("the fake writes short strings only");
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}
