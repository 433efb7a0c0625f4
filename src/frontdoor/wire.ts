/**
 * The PostgreSQL v3 wire format, as far as the front door writes or reads it itself. Every message
 * but the startup packet is a type byte and an Int32 length that counts itself, then the body
 * (PostgreSQL documentation, "Frontend/Backend Protocol", "Message Formats").
 */

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** A backend message: type byte, length, body. */
export function message(type: string, body: Buffer = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const EMPTY = Buffer.alloc(0);

function cstring(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

export const authenticationOk = (): Buffer => message("R", int32(0));
export const authenticationCleartextPassword = (): Buffer => message("R", int32(3));
export const authenticationSasl = (mechanisms: readonly string[]): Buffer =>
  message("R", Buffer.concat([int32(10), ...mechanisms.map(cstring), Buffer.from([0])]));
export const authenticationSaslContinue = (data: string): Buffer =>
  message("R", Buffer.concat([int32(11), Buffer.from(data, "utf8")]));
export const authenticationSaslFinal = (data: string): Buffer =>
  message("R", Buffer.concat([int32(12), Buffer.from(data, "utf8")]));

export const parameterStatus = (name: string, value: string): Buffer =>
  message("S", Buffer.concat([cstring(name), cstring(value)]));

export const backendKeyData = (processId: number, secretKey: number): Buffer =>
  message("K", Buffer.concat([int32(processId), int32(secretKey)]));

export const readyForQuery = (status: "I" | "T" | "E"): Buffer => message("Z", Buffer.from(status, "latin1"));
export const parseComplete = (): Buffer => message("1");
export const closeComplete = (): Buffer => message("3");

export interface ErrorFields {
  /** ERROR, FATAL or (for notices) NOTICE/WARNING. */
  readonly severity: string;
  /** The SQLSTATE. */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

function fields(e: ErrorFields): Buffer {
  const parts = [
    Buffer.from("S"),
    cstring(e.severity),
    Buffer.from("V"),
    cstring(e.severity),
    Buffer.from("C"),
    cstring(e.code),
    Buffer.from("M"),
    cstring(e.message),
  ];
  if (e.detail) parts.push(Buffer.from("D"), cstring(e.detail));
  if (e.hint) parts.push(Buffer.from("H"), cstring(e.hint));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const errorResponse = (e: ErrorFields): Buffer => message("E", fields(e));
export const noticeResponse = (e: ErrorFields): Buffer => message("N", fields(e));

/** Reads a NUL-terminated UTF-8 string at `offset`; the offset after it, or -1 when there is no NUL. */
export function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0) return ["", -1];
  return [buf.toString("utf8", offset, end), end + 1];
}

/** A C string as bytes (for rebuilding a message with one name replaced). */
export function cstringBytes(s: string): Buffer {
  return cstring(s);
}

/** The startup packet's parameters (user, database, options, application_name, ...). */
export function readStartupParameters(body: Buffer): Map<string, string> | undefined {
  const params = new Map<string, string>();
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) return params;
    const [name, afterName] = readCString(body, at);
    if (afterName < 0) return undefined;
    const [value, afterValue] = readCString(body, afterName);
    if (afterValue < 0) return undefined;
    params.set(name, value);
    at = afterValue;
  }
  return undefined;
}

/**
 * The fields of an ErrorResponse or NoticeResponse body, by their one-letter codes (for tests and
 * for logging the SQLSTATE of an error Berth drops).
 */
export function readErrorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const [value, next] = readCString(body, at + 1);
    if (next < 0) break;
    out.set(code, value);
    at = next;
  }
  return out;
}
