import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { UnauthenticatedError } from "../errors/berth-error.js";
import { saslprep } from "./saslprep.js";

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, for the PostgreSQL front door. What
 * is stored is PostgreSQL's verifier — iterations, salt, StoredKey and ServerKey — from which the
 * secret cannot be replayed: StoredKey only checks a proof, ServerKey only signs the server's answer.
 */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export const SCRAM_MECHANISM = "SCRAM-SHA-256";
/** PostgreSQL's default (scram_iterations) and salt length, so verifiers look like its own. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** PostgreSQL sends 18 random bytes of server nonce; RFC 5802 asks only for enough. */
const SERVER_NONCE_BYTES = 18;
/** A client-first or client-final message is a few hundred bytes; anything this large is not SCRAM. */
export const MAX_SCRAM_MESSAGE_BYTES = 4096;
const MAX_ITERATIONS = 2 ** 31 - 1;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export type ScramFailure = "malformed" | "channel_binding_unsupported" | "invalid_proof";

/** A refused SCRAM exchange. The message names what was wrong, never the secret or the proof. */
export class ScramError extends UnauthenticatedError {
  readonly reason: ScramFailure;
  constructor(reason: ScramFailure, message: string) {
    super(message, reason === "invalid_proof" ? "invalid_credentials" : `scram_${reason}`);
    this.reason = reason;
  }
}

function saltedPassword(secret: string, salt: Buffer, iterations: number): Promise<Buffer> {
  // Asynchronous: the iterations run on libuv's thread pool, not on the event loop.
  return new Promise((resolve, reject) =>
    pbkdf2(Buffer.from(saslprep(secret), "utf8"), salt, iterations, KEY_BYTES, "sha256", (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text, "utf8").digest();
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();

async function deriveKeys(secret: string, salt: Buffer, iterations: number) {
  const salted = await saltedPassword(secret, salt, iterations);
  return { storedKey: sha256(hmac(salted, "Client Key")), serverKey: hmac(salted, "Server Key") };
}

export function formatScramVerifier(v: ScramVerifier): string {
  const b64 = (b: Buffer) => b.toString("base64");
  return `${SCRAM_MECHANISM}$${v.iterations}:${b64(v.salt)}$${b64(v.storedKey)}:${b64(v.serverKey)}`;
}

/** The verifier of `secret` for a given salt and iteration count (PostgreSQL's derivation). */
export async function deriveScramVerifier(
  secret: string,
  salt: Buffer,
  iterations: number,
): Promise<ScramVerifier> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS)
    throw new RangeError("SCRAM iterations must be a positive 31-bit integer");
  return { iterations, salt, ...(await deriveKeys(secret, salt, iterations)) };
}

/** A new verifier of `secret` with a random salt, in PostgreSQL's `rolpassword` format. */
export async function makeScramVerifier(
  secret: string,
  iterations = DEFAULT_SCRAM_ITERATIONS,
): Promise<string> {
  return formatScramVerifier(await deriveScramVerifier(secret, randomBytes(SALT_BYTES), iterations));
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, or undefined for anything else. */
export function parseScramVerifier(text: string | null | undefined): ScramVerifier | undefined {
  if (typeof text !== "string") return undefined;
  const m = /^SCRAM-SHA-256\$([1-9][0-9]{0,9}):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(text);
  if (!m) return undefined;
  const [, iter, salt, stored, server] = m as unknown as [string, string, string, string, string];
  const iterations = Number(iter);
  if (iterations > MAX_ITERATIONS || ![salt, stored, server].every((s) => BASE64.test(s))) return undefined;
  const verifier = {
    iterations,
    salt: Buffer.from(salt, "base64"),
    storedKey: Buffer.from(stored, "base64"),
    serverKey: Buffer.from(server, "base64"),
  };
  if (verifier.storedKey.length !== KEY_BYTES || verifier.serverKey.length !== KEY_BYTES) return undefined;
  return verifier;
}

/** Whether a cleartext secret (sent inside TLS or over loopback) is the one the verifier was made of. */
export async function verifySecretWithVerifier(verifier: ScramVerifier, secret: string): Promise<boolean> {
  const keys = await deriveKeys(secret, verifier.salt, verifier.iterations);
  // Both keys, compared in constant time, and both compared whatever the first answered.
  const stored = timingSafeEqual(keys.storedKey, verifier.storedKey);
  const server = timingSafeEqual(keys.serverKey, verifier.serverKey);
  return stored && server;
}

/**
 * Unknown (or disabled) accounts go through the same exchange as real ones and fail at the proof,
 * so a client cannot tell which names exist: the salt is stable per name for this process (a
 * repeated probe sees the same salt, as for a real account) but unrelated across names and restarts.
 */
const MOCK_KEY = randomBytes(32);
function mockVerifier(name: string): ScramVerifier {
  return {
    iterations: DEFAULT_SCRAM_ITERATIONS,
    salt: hmac(MOCK_KEY, `salt\0${name}`).subarray(0, SALT_BYTES),
    storedKey: randomBytes(KEY_BYTES),
    serverKey: randomBytes(KEY_BYTES),
  };
}

/**
 * A cleartext check for a name that is no account: the same derivation as a real account with a
 * verifier costs, always false, so that the time taken does not tell which names exist.
 */
export async function decoyVerifySecret(secret: string, name = ""): Promise<false> {
  await verifySecretWithVerifier(mockVerifier(name), secret);
  return false;
}

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const ATTRIBUTE = /^[A-Za-z]=/;

function malformed(message: string): ScramError {
  return new ScramError("malformed", `Malformed SCRAM message: ${message}`);
}

function guardSize(message: string): void {
  if (typeof message !== "string" || Buffer.byteLength(message, "utf8") > MAX_SCRAM_MESSAGE_BYTES)
    throw malformed(`a SCRAM message must be a string of at most ${MAX_SCRAM_MESSAGE_BYTES} bytes`);
}

/** gs2-header and client-first-message-bare of a client-first-message (RFC 5802 §7). */
function parseClientFirst(message: string): { gs2Header: string; bare: string; clientNonce: string } {
  if (message.startsWith("p")) {
    throw new ScramError(
      "channel_binding_unsupported",
      "The client requires SCRAM channel binding (SCRAM-SHA-256-PLUS), which Berth does not offer: connect with channel_binding=prefer or disable",
    );
  }
  if (!/^[ny],/.test(message)) throw malformed("expected the channel-binding flag n or y");
  if (message[2] === "a") throw malformed("an authorization identity (a=) is not supported");
  if (message[2] !== ",") throw malformed("expected ',' after the channel-binding flag");
  const bare = message.slice(3);
  if (bare.startsWith("m=")) throw malformed("mandatory extensions (m=) are not supported");
  const attrs = bare.split(",");
  // n= (the SCRAM user name) is required but ignored: the startup message's user is the account.
  if (!attrs[0]?.startsWith("n=")) throw malformed("expected the user name attribute n=");
  const nonce = attrs[1]?.startsWith("r=") ? attrs[1].slice(2) : undefined;
  if (nonce === undefined) throw malformed("expected the nonce attribute r=");
  if (!PRINTABLE.test(nonce)) throw malformed("the client nonce must be printable ASCII without ','");
  if (!attrs.slice(2).every((a) => ATTRIBUTE.test(a))) throw malformed("an extension is not name=value");
  return { gs2Header: message.slice(0, 3), bare, clientNonce: nonce };
}

/** client-final-message (RFC 5802 §7): c=, r=, any extensions, and p= last. */
function parseClientFinal(message: string): {
  binding: string;
  nonce: string;
  withoutProof: string;
  proof: Buffer;
} {
  const attrs = message.split(",");
  const binding = attrs[0]?.startsWith("c=") ? attrs[0].slice(2) : undefined;
  if (binding === undefined) throw malformed("expected the channel-binding attribute c=");
  const nonce = attrs[1]?.startsWith("r=") ? attrs[1].slice(2) : undefined;
  if (nonce === undefined) throw malformed("expected the nonce attribute r=");
  const last = attrs.length > 2 ? attrs[attrs.length - 1]! : "";
  if (!last.startsWith("p=")) throw malformed("expected the proof attribute p= last");
  const extensions = attrs.slice(2, -1);
  if (!extensions.every((a) => ATTRIBUTE.test(a) && !a.startsWith("p=")))
    throw malformed("an extension is not name=value");
  const proofText = last.slice(2);
  const proof = BASE64.test(proofText) ? Buffer.from(proofText, "base64") : Buffer.alloc(0);
  if (proof.length !== KEY_BYTES) throw malformed("the proof must be 32 bytes of base64");
  return { binding, nonce, withoutProof: message.slice(0, message.length - last.length - 1), proof };
}

/**
 * The server side of one SCRAM-SHA-256 exchange: `start` answers the client-first-message with the
 * server-first-message, `finish` checks the client-final-message and answers the server-final
 * message. Any failure throws ScramError and ends the exchange (no second try on the same object).
 */
export class ScramServerExchange {
  readonly #verifier: ScramVerifier;
  /** No account behind this exchange: it fails at the proof, as a wrong password would. */
  readonly #doomed: boolean;
  #state: "initial" | "started" | "ended" = "initial";
  #gs2Header = "";
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";

  /** `mockName` (the startup user) keys the mock salt when there is no verifier. */
  constructor(verifier: ScramVerifier | undefined, mockName = "") {
    this.#verifier = verifier ?? mockVerifier(mockName);
    this.#doomed = verifier === undefined;
  }

  start(clientFirstMessage: string): string {
    if (this.#state !== "initial") throw malformed("the exchange has already started");
    this.#state = "ended";
    guardSize(clientFirstMessage);
    const first = parseClientFirst(clientFirstMessage);
    this.#gs2Header = first.gs2Header;
    this.#clientFirstBare = first.bare;
    this.#nonce = first.clientNonce + randomBytes(SERVER_NONCE_BYTES).toString("base64");
    const salt = this.#verifier.salt.toString("base64");
    this.#serverFirst = `r=${this.#nonce},s=${salt},i=${this.#verifier.iterations}`;
    this.#state = "started";
    return this.#serverFirst;
  }

  finish(clientFinalMessage: string): string {
    if (this.#state !== "started") throw malformed("the exchange is not waiting for a client-final-message");
    this.#state = "ended";
    guardSize(clientFinalMessage);
    const final = parseClientFinal(clientFinalMessage);
    // Without channel binding, c= echoes the gs2 header: "biws" for "n,,", "eSws" for "y,,".
    if (final.binding !== Buffer.from(this.#gs2Header).toString("base64"))
      throw malformed("the channel-binding attribute does not match the client-first-message");
    if (final.nonce !== this.#nonce) throw malformed("the nonce does not match the server's");
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${final.withoutProof}`;
    const signature = hmac(this.#verifier.storedKey, authMessage);
    const clientKey = Buffer.alloc(KEY_BYTES);
    for (let i = 0; i < KEY_BYTES; i++) clientKey[i] = final.proof[i]! ^ signature[i]!;
    const matches = timingSafeEqual(sha256(clientKey), this.#verifier.storedKey);
    if (!matches || this.#doomed)
      throw new ScramError("invalid_proof", "The password or service token is wrong");
    return `v=${hmac(this.#verifier.serverKey, authMessage).toString("base64")}`;
  }
}
