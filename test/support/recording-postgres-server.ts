import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ByteReader, listenOnLoopback, upgradeToTls } from "./byte-reader.js";

/**
 * A fake PostgreSQL server that records everything a client sends it: enough of the v3 protocol
 * (PostgreSQL docs, "Message Flow" and "Message Formats") to take a StartupMessage, ask for a
 * password the configured way, and optionally let the client in and answer simple queries. Tests
 * use it as the attacker's host: "did the password canary ever reach it?"
 */
export type PostgresAuthRequest = "cleartext" | "md5" | "scram-sha-256" | "trust";

export interface RecordingPostgresOptions {
  /** How the server asks for the password: AuthenticationCleartextPassword (3), MD5 (5), SASL (10). */
  auth: PostgresAuthRequest;
  /** After a password (any password), AuthenticationOk and a session; default: 28P01. SASL always fails. */
  accept?: boolean;
  /** PEM certificate and key: SSLRequest is answered 'S' and the session continues in TLS. */
  tls?: { cert: string; key: string };
  serverVersion?: string;
}

export interface PostgresRecording {
  connections: number;
  sslRequests: number;
  startups: { user: string; database: string; params: Record<string, string>; tls: boolean }[];
  /** PasswordMessage contents: the password itself (cleartext) or "md5…" (MD5). */
  passwords: { method: PostgresAuthRequest; value: string; tls: boolean }[];
  /** SASLInitialResponse messages: the mechanism and the client-first message. */
  sasl: { mechanism: string; clientFirst: string }[];
  queries: string[];
}

export interface RecordingPostgresServer {
  readonly port: number;
  readonly recording: PostgresRecording;
  /** Every byte any client sent (TLS already removed), as one buffer. */
  received(): Buffer;
  /** Whether `text` (UTF-8) appears anywhere in what clients sent. */
  sawText(text: string): boolean;
  close(): Promise<void>;
}

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

export async function startRecordingPostgres(
  options: RecordingPostgresOptions,
): Promise<RecordingPostgresServer> {
  const chunks: Buffer[] = [];
  const recording: PostgresRecording = {
    connections: 0,
    sslRequests: 0,
    startups: [],
    passwords: [],
    sasl: [],
    queries: [],
  };
  const record = (c: Buffer) => chunks.push(Buffer.from(c));
  const listener = await listenOnLoopback((socket) => {
    recording.connections++;
    void serve(socket, options, recording, record).catch(() => socket.destroy());
  });
  return {
    port: listener.port,
    recording,
    received: () => Buffer.concat(chunks),
    sawText: (text) => Buffer.concat(chunks).includes(Buffer.from(text, "utf8")),
    close: listener.close,
  };
}

async function serve(
  socket: Socket,
  options: RecordingPostgresOptions,
  recording: PostgresRecording,
  record: (c: Buffer) => void,
): Promise<void> {
  let reader = new ByteReader(socket, record);
  let stream: Socket | TLSSocket = socket;
  let tls = false;
  let params: Record<string, string> | undefined;
  while (!params) {
    const length = (await reader.read(4)).readInt32BE(0);
    const body = await reader.read(length - 4);
    const code = body.readInt32BE(0);
    if (code === SSL_REQUEST && options.tls && !tls) {
      recording.sslRequests++;
      socket.write("S");
      ({ reader, stream } = upgradeToTls(reader, socket, options.tls, record));
      tls = true;
    } else if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      if (code === SSL_REQUEST) recording.sslRequests++;
      socket.write("N");
    } else if (code === CANCEL_REQUEST) {
      socket.end();
      return;
    } else if (code === PROTOCOL_3) {
      params = startupParams(body.subarray(4));
    } else {
      stream.end(errorResponse("08P01", `unsupported frontend protocol ${code}`));
      return;
    }
  }
  recording.startups.push({ user: params.user ?? "", database: params.database ?? "", params, tls });
  const session = { reader, stream, tls, recording, options };
  if (options.auth === "trust" || (await authenticate(session))) return runSession(session);
}

interface Session {
  reader: ByteReader;
  stream: Socket | TLSSocket;
  tls: boolean;
  recording: PostgresRecording;
  options: RecordingPostgresOptions;
}

/** Asks for the password; true when the client is let in. */
async function authenticate(s: Session): Promise<boolean> {
  const { auth } = s.options;
  if (auth === "cleartext") s.stream.write(message("R", int32(3)));
  else if (auth === "md5") s.stream.write(message("R", Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])])));
  else s.stream.write(message("R", Buffer.concat([int32(10), cstring("SCRAM-SHA-256"), Buffer.from([0])])));
  const { type, body } = await readMessage(s.reader);
  if (type !== "p") {
    s.stream.end(errorResponse("08P01", `expected a password message, got '${type}'`));
    return false;
  }
  if (auth === "scram-sha-256") {
    const end = body.indexOf(0);
    const mechanism = body.subarray(0, end).toString("utf8");
    const length = body.readInt32BE(end + 1);
    const clientFirst = length < 0 ? "" : body.subarray(end + 5, end + 5 + length).toString("utf8");
    s.recording.sasl.push({ mechanism, clientFirst });
    s.stream.end(errorResponse("28P01", "password authentication failed (recording fake)"));
    return false;
  }
  s.recording.passwords.push({
    method: auth,
    value: body.subarray(0, body.indexOf(0)).toString("utf8"),
    tls: s.tls,
  });
  if (!s.options.accept) {
    s.stream.end(errorResponse("28P01", "password authentication failed (recording fake)"));
    return false;
  }
  return true;
}

/** AuthenticationOk, the usual ParameterStatus, BackendKeyData, then simple queries until Terminate. */
async function runSession(s: Session): Promise<void> {
  const version = s.options.serverVersion ?? "16.0 (recording fake)";
  const status = (k: string, v: string) => message("S", Buffer.concat([cstring(k), cstring(v)]));
  s.stream.write(
    Buffer.concat([
      message("R", int32(0)),
      status("server_version", version),
      status("server_encoding", "UTF8"),
      status("client_encoding", "UTF8"),
      status("DateStyle", "ISO, MDY"),
      status("integer_datetimes", "on"),
      status("standard_conforming_strings", "on"),
      message("K", Buffer.concat([int32(4242), int32(0x5eed)])),
      readyForQuery(),
    ]),
  );
  // The extended protocol is not spoken here: its first Flush or Sync gets an error, and the Sync
  // a fresh ReadyForQuery, so a client sees a failed statement rather than a hang.
  let failedExtended = false;
  const unsupported = () => errorResponse("0A000", "the recording fake answers simple queries only");
  for (;;) {
    const { type, body } = await readMessage(s.reader);
    if (type === "X") {
      s.stream.end();
      return;
    }
    if (type === "Q") {
      s.recording.queries.push(body.subarray(0, body.indexOf(0)).toString("utf8"));
      s.stream.write(Buffer.concat([...singleTextRow(version), readyForQuery()]));
    } else if (type === "P") {
      const nameEnd = body.indexOf(0);
      s.recording.queries.push(body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString("utf8"));
    } else if (type === "H" && !failedExtended) {
      failedExtended = true;
      s.stream.write(unsupported());
    } else if (type === "S") {
      s.stream.write(failedExtended ? readyForQuery() : Buffer.concat([unsupported(), readyForQuery()]));
      failedExtended = false;
    }
  }
}

/** One text column `v` holding the server version: what any probe query here gets back. */
function singleTextRow(value: string): Buffer[] {
  const field = Buffer.concat([cstring("v"), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)]);
  const v = Buffer.from(value, "utf8");
  return [
    message("T", Buffer.concat([int16(1), field])),
    message("D", Buffer.concat([int16(1), int32(v.length), v])),
    message("C", cstring("SELECT 1")),
  ];
}

async function readMessage(reader: ByteReader): Promise<{ type: string; body: Buffer }> {
  const head = await reader.read(5);
  return { type: String.fromCharCode(head[0]!), body: await reader.read(head.readInt32BE(1) - 4) };
}

function startupParams(body: Buffer): Record<string, string> {
  const parts = body.toString("utf8").split("\0");
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i] !== ""; i += 2) out[parts[i]!] = parts[i + 1]!;
  return out;
}

function errorResponse(code: string, text: string): Buffer {
  const field = (t: string, v: string) => Buffer.concat([Buffer.from(t), cstring(v)]);
  return message(
    "E",
    Buffer.concat([
      field("S", "FATAL"),
      field("V", "FATAL"),
      field("C", code),
      field("M", text),
      Buffer.from([0]),
    ]),
  );
}

function readyForQuery(): Buffer {
  return message("Z", Buffer.from("I"));
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}
