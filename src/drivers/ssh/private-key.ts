import { createHmac, randomBytes } from "node:crypto";
import type { ParsedKey } from "ssh2";
// ssh2 is CommonJS: its default export under Node's ESM loader (see ssh-attempt.ts).
import ssh2 from "ssh2";

const { utils } = ssh2;

import { decryptInWorker } from "./key-decryptor.js";

/**
 * The most bcrypt rounds an encrypted OpenSSH private key may ask for. ssh2 decrypts such a key
 * with bcrypt-pbkdf in JavaScript, on the main thread, for as many rounds as the key itself names
 * (about 0.1 s a round here): unbounded, one request could freeze the process. ssh-keygen's default
 * is 16; `ssh-keygen -a` above this bound makes a key Berth refuses (re-encrypt it with fewer).
 */
export const MAX_KDF_ROUNDS = 64;

const OPENSSH_ARMOR =
  /^-----BEGIN OPENSSH PRIVATE KEY-----(?:\r\n|\n)([\s\S]+)(?:\r\n|\n)-----END OPENSSH PRIVATE KEY-----$/;
const MAGIC = "openssh-key-v1\0";
const NOT_A_KEY = "is not a private key ssh can read (OpenSSH or PEM; ed25519, ECDSA or RSA)";

/** Reads one SSH `string` (uint32 length, then the bytes) at `at`; undefined past the end. */
function readString(data: Buffer, at: number): { value: Buffer; next: number } | undefined {
  if (at + 4 > data.length) return undefined;
  const length = data.readUInt32BE(at);
  if (at + 4 + length > data.length) return undefined;
  return { value: data.subarray(at + 4, at + 4 + length), next: at + 4 + length };
}

/**
 * The header of an openssh-key-v1 key (magic, cipher, kdf name, kdf options: salt and rounds),
 * read before ssh2 sees the key: a reason when it is cut short or asks for more than
 * MAX_KDF_ROUNDS; undefined for a sound header and for keys of other formats (left to ssh2).
 */
export function openSshKeyHeaderProblem(privateKey: string): string | undefined {
  const armored = OPENSSH_ARMOR.exec(privateKey.trim());
  if (!armored) return undefined;
  const data = Buffer.from(armored[1] ?? "", "base64");
  if (data.subarray(0, MAGIC.length).toString("latin1") !== MAGIC) return NOT_A_KEY;
  const cipher = readString(data, MAGIC.length);
  const kdfName = cipher && readString(data, cipher.next);
  const kdfOptions = kdfName && readString(data, kdfName.next);
  if (!kdfOptions) return `${NOT_A_KEY}: its header is cut short`;
  if (kdfName.value.toString("latin1") !== "bcrypt") return undefined;
  const salt = readString(kdfOptions.value, 0);
  if (!salt || salt.next + 4 > kdfOptions.value.length) return `${NOT_A_KEY}: its header is cut short`;
  const rounds = kdfOptions.value.readUInt32BE(salt.next);
  if (rounds > MAX_KDF_ROUNDS)
    return `is encrypted with ${rounds} bcrypt rounds; at most ${MAX_KDF_ROUNDS} are accepted (re-encrypt it: ssh-keygen -p -a 16)`;
  return undefined;
}

/**
 * Parsed keys by a keyed digest of (key, passphrase): validation and the first sign-in of a
 * connection (and every staged test of it) share one decryption instead of paying the KDF each
 * time. The digest's key is random per process, so the map's keys say nothing about the secrets.
 * Bounded: the oldest entry goes first.
 */
const CACHE_LIMIT = 256;
const digestKey = randomBytes(32);
const parsed = new Map<string, ParsedKey | Error>();

function digestOf(privateKey: string, passphrase: string | undefined): string {
  return createHmac("sha256", digestKey)
    .update(privateKey)
    .update("\0")
    .update(passphrase === undefined ? "-" : `+${passphrase}`)
    .digest("base64");
}

/**
 * ssh2's parse of a private key, after the header check (its refusal comes back as an Error with
 * `reason` set to the fixed description), remembered per (key, passphrase).
 */
export function parsePrivateKey(
  privateKey: string,
  passphrase: string | undefined,
): ParsedKey | (Error & { reason?: string }) {
  const digest = digestOf(privateKey, passphrase);
  const known = parsed.get(digest);
  if (known) return known;
  const problem = openSshKeyHeaderProblem(privateKey);
  let result: ParsedKey | Error;
  if (problem) result = Object.assign(new Error(problem), { reason: problem });
  else {
    const raw: ParsedKey | ParsedKey[] | Error = utils.parseKey(privateKey, passphrase);
    result = Array.isArray(raw) ? (raw[0] ?? new Error("no key")) : raw;
  }
  remember(digest, result);
  return result;
}

/**
 * Checks a private key (and its passphrase) the way the sign-in will read it; a reason, or
 * undefined. Without `decrypt`, an encrypted OpenSSH key not decrypted yet is checked by its header
 * only (see warmPrivateKey).
 */
export function privateKeyProblem(
  privateKey: string,
  passphrase: string | undefined,
  decrypt = true,
): string | undefined {
  if (!decrypt && needsWorker(privateKey, passphrase)) return openSshKeyHeaderProblem(privateKey);
  const result = parsePrivateKey(privateKey, passphrase);
  if (!(result instanceof Error)) return undefined;
  if ("reason" in result && typeof result.reason === "string") return result.reason;
  // ssh2's messages name the problem, never the key's bytes; they are still replaced by fixed text.
  if (/no passphrase/i.test(result.message)) return "is encrypted: give its passphrase";
  if (/passphrase/i.test(result.message)) return "cannot be decrypted with the passphrase given";
  return NOT_A_KEY;
}

/** How long a worker may spend decrypting one key (64 rounds take about 8 s on a busy machine). */
export const DECRYPT_TIMEOUT_MS = 20_000;

/**
 * Decrypts an encrypted OpenSSH key (bcrypt) in a worker thread, ahead of the synchronous parses
 * (validation, sign-in), which then find it remembered: the main thread never runs the KDF. Keys
 * that need no KDF, or whose header is refused, are left to those parses (they are quick). A
 * worker that does not answer in time leaves a refusal in place of the key.
 */
export async function warmPrivateKey(
  privateKey: string | undefined,
  passphrase: string | undefined,
  timeoutMs = DECRYPT_TIMEOUT_MS,
): Promise<void> {
  if (privateKey === undefined || passphrase === undefined || !needsWorker(privateKey, passphrase)) return;
  const digest = digestOf(privateKey, passphrase);
  const armored = OPENSSH_ARMOR.exec(privateKey.trim());
  const answer = await decryptInWorker(armored?.[1]?.replace(/\s/g, "") ?? "", passphrase, timeoutMs);
  let result: ParsedKey | Error;
  if ("unencrypted" in answer) {
    const raw: ParsedKey | ParsedKey[] | Error = utils.parseKey(answer.unencrypted);
    result = Array.isArray(raw) ? (raw[0] ?? new Error("no key")) : raw;
  } else if ("wrongPassphrase" in answer) result = new Error("bad passphrase");
  else if ("timedOut" in answer) {
    // This attempt fails (the synchronous parse must not run the KDF instead); the next one, which
    // may have more time or a quieter machine, tries the worker again.
    const reason = `could not be decrypted within ${timeoutMs} ms`;
    remember(digest, Object.assign(new Error(reason), { reason }));
    timedOut.add(digest);
    return;
  } else result = new Error("malformed"); // Not for ssh2 to find out on the main thread, KDF first.
  remember(digest, result);
}

/** An encrypted OpenSSH key with a sound header and a passphrase, not decrypted yet: bcrypt to run. */
function needsWorker(privateKey: string, passphrase: string | undefined): passphrase is string {
  if (passphrase === undefined || passphrase === "") return false;
  const digest = digestOf(privateKey, passphrase);
  if ((parsed.has(digest) && !timedOut.has(digest)) || openSshKeyHeaderProblem(privateKey)) return false;
  const armored = OPENSSH_ARMOR.exec(privateKey.trim());
  if (!armored) return false;
  const data = Buffer.from(armored[1] ?? "", "base64");
  const cipher = readString(data, MAGIC.length);
  const kdfName = cipher && readString(data, cipher.next);
  return kdfName?.value.toString("latin1") === "bcrypt";
}

/** Digests whose worker ran out of time: refused for now, tried again by the next warmPrivateKey. */
const timedOut = new Set<string>();

function remember(digest: string, result: ParsedKey | Error): void {
  timedOut.delete(digest);
  if (parsed.size >= CACHE_LIMIT) parsed.delete(parsed.keys().next().value as string);
  parsed.set(digest, result);
}
