import { createHmac, randomBytes } from "node:crypto";
import { type ParsedKey, utils } from "ssh2";

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
  if (parsed.size >= CACHE_LIMIT) parsed.delete(parsed.keys().next().value as string);
  parsed.set(digest, result);
  return result;
}

/** Checks a private key (and its passphrase) the way the sign-in will read it; a reason, or undefined. */
export function privateKeyProblem(privateKey: string, passphrase: string | undefined): string | undefined {
  const result = parsePrivateKey(privateKey, passphrase);
  if (!(result instanceof Error)) return undefined;
  if ("reason" in result && typeof result.reason === "string") return result.reason;
  // ssh2's messages name the problem, never the key's bytes; they are still replaced by fixed text.
  if (/no passphrase/i.test(result.message)) return "is encrypted: give its passphrase";
  if (/passphrase/i.test(result.message)) return "cannot be decrypted with the passphrase given";
  return NOT_A_KEY;
}
