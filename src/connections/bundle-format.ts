import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { BerthError } from "../errors/berth-error.js";

/**
 * The portable bundle's file format. Everything after the header is one AES-256-GCM ciphertext
 * under a key derived from the passphrase with scrypt; the header (magic, version, KDF and its
 * parameters, salt, nonce, length) is the associated data, so changing any byte of the file — a
 * weaker KDF setting included — fails the tag like a wrong passphrase does. Nothing is in clear
 * but the header, and the header holds no secret.
 *
 *   offset  size  field
 *   0       8     magic "BERTHBDL"
 *   8       1     format version (1)
 *   9       1     KDF (1 = scrypt)
 *   10      1     scrypt log2(N)
 *   11      1     scrypt r
 *   12      1     scrypt p
 *   13      16    salt
 *   29      12    GCM nonce
 *   41      4     ciphertext length (big-endian)
 *   45      n     ciphertext (UTF-8 JSON payload)
 *   45+n    16    GCM tag
 */
export const BUNDLE_MAGIC = Buffer.from("BERTHBDL", "ascii");
export const BUNDLE_VERSION = 1;
const KDF_SCRYPT = 1;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const HEADER_BYTES = 8 + 1 + 1 + 3 + SALT_BYTES + NONCE_BYTES + 4;

/** A bundle larger than this is refused before any work (a connection takes a few KiB). */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

/**
 * At least 12 characters. scrypt makes each guess cost ~0.3 s and 128 MiB, but a bundle may
 * travel by mail or sit in a ticket for years: only length keeps a passphrase out of reach of an
 * offline guesser with time.
 */
export const MIN_PASSPHRASE_CHARS = 12;
const MAX_PASSPHRASE_CHARS = 1024;

export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

/** OWASP's scrypt recommendation (N=2^17, r=8, p=1): 128 MiB and about 0.3 s per derivation here. */
export const DEFAULT_SCRYPT: ScryptParams = { log2N: 17, r: 8, p: 1 };
/**
 * What a bundle's header may ask for. The header is read before anything authenticates it, so its
 * cost is the sender's to choose: only what Berth itself writes is obeyed (at most the default,
 * 128 MiB and one pass; p > 1 only multiplies the work). Below, too weak to accept.
 */
const SCRYPT_BOUNDS = { log2N: [14, DEFAULT_SCRYPT.log2N], r: [1, DEFAULT_SCRYPT.r], p: [1, 1] } as const;
/** Node's scrypt needs a little over 128·N·r bytes; this leaves room for the default and no more than twice it. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

/** Why a bundle was refused, as a stable reason (details.reason) with a message saying what to do. */
export type BundleProblem =
  | "bundle_malformed"
  | "bundle_too_large"
  | "bundle_version_unsupported"
  | "bundle_kdf_unsupported"
  | "bundle_authentication_failed"
  | "passphrase_too_short";

/** A bundle that cannot be made or opened: validation_failed (400), with the reason. */
export class BundleError extends BerthError {
  constructor(reason: BundleProblem, message: string) {
    super("validation_failed", message, { reason });
  }
}

export function checkPassphrase(passphrase: string): void {
  if ([...passphrase].length < MIN_PASSPHRASE_CHARS)
    throw new BundleError(
      "passphrase_too_short",
      `The passphrase must have at least ${MIN_PASSPHRASE_CHARS} characters: the bundle holds credentials, and can be attacked offline for as long as it exists`,
    );
  if (passphrase.length > MAX_PASSPHRASE_CHARS)
    throw new BundleError(
      "bundle_malformed",
      `The passphrase may have at most ${MAX_PASSPHRASE_CHARS} characters`,
    );
}

/**
 * Derivations run one at a time: each holds 128 MiB and a libuv thread for a good fraction of a
 * second, and the bundle rate limit is per caller, so many callers at once would otherwise take the
 * thread pool (DNS, file reads) and memory together. Later callers wait their turn.
 */
let derivationQueue: Promise<unknown> = Promise.resolve();

function deriveKey(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const turn = derivationQueue.then(() => deriveKeyNow(passphrase, salt, params));
  derivationQueue = turn.catch(() => undefined);
  return turn;
}

function deriveKeyNow(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.log2N;
  return new Promise((resolve, reject) =>
    // Asynchronous: a derivation takes a good fraction of a second and must not stall other calls.
    scrypt(
      passphrase.normalize("NFC"),
      salt,
      32,
      { N, r: params.r, p: params.p, maxmem: MAX_SCRYPT_MEMORY },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

function header(params: ScryptParams, salt: Buffer, nonce: Buffer, length: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  BUNDLE_MAGIC.copy(h, 0);
  h.writeUInt8(BUNDLE_VERSION, 8);
  h.writeUInt8(KDF_SCRYPT, 9);
  h.writeUInt8(params.log2N, 10);
  h.writeUInt8(params.r, 11);
  h.writeUInt8(params.p, 12);
  salt.copy(h, 13);
  nonce.copy(h, 13 + SALT_BYTES);
  h.writeUInt32BE(length, 13 + SALT_BYTES + NONCE_BYTES);
  return h;
}

/** Seals a payload (any JSON value) into a bundle. */
export async function sealBundle(
  payload: unknown,
  passphrase: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<Buffer> {
  checkPassphrase(passphrase);
  const plain = Buffer.from(JSON.stringify(payload), "utf8");
  if (plain.length + HEADER_BYTES + TAG_BYTES > MAX_BUNDLE_BYTES)
    throw new BundleError(
      "bundle_too_large",
      `A bundle may hold at most ${MAX_BUNDLE_BYTES} bytes: export fewer connections at a time`,
    );
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(passphrase, salt, params);
  const head = header(params, salt, nonce, plain.length);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  key.fill(0);
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

/** The header's fields, checked for shape and bounds (not yet authenticated: the tag does that). */
function readHeader(bundle: Buffer): { params: ScryptParams; salt: Buffer; nonce: Buffer; length: number } {
  if (bundle.length > MAX_BUNDLE_BYTES)
    throw new BundleError("bundle_too_large", `A bundle may hold at most ${MAX_BUNDLE_BYTES} bytes`);
  if (bundle.length < HEADER_BYTES + TAG_BYTES || !bundle.subarray(0, 8).equals(BUNDLE_MAGIC))
    throw new BundleError("bundle_malformed", "This is not a Berth bundle (or only the start of one)");
  const version = bundle.readUInt8(8);
  if (version !== BUNDLE_VERSION)
    throw new BundleError(
      "bundle_version_unsupported",
      `The bundle has format version ${version}; this Berth reads version ${BUNDLE_VERSION}`,
    );
  const params = { log2N: bundle.readUInt8(10), r: bundle.readUInt8(11), p: bundle.readUInt8(12) };
  const within = (v: number, [lo, hi]: readonly [number, number]) => v >= lo && v <= hi;
  if (
    bundle.readUInt8(9) !== KDF_SCRYPT ||
    !within(params.log2N, SCRYPT_BOUNDS.log2N) ||
    !within(params.r, SCRYPT_BOUNDS.r) ||
    !within(params.p, SCRYPT_BOUNDS.p) ||
    128 * 2 ** params.log2N * params.r > MAX_SCRYPT_MEMORY
  )
    throw new BundleError(
      "bundle_kdf_unsupported",
      "The bundle's key derivation settings are not ones Berth accepts",
    );
  const length = bundle.readUInt32BE(13 + SALT_BYTES + NONCE_BYTES);
  if (bundle.length !== HEADER_BYTES + length + TAG_BYTES)
    throw new BundleError(
      "bundle_malformed",
      "The bundle's length does not match its header: it was cut short or has bytes added",
    );
  return {
    params,
    salt: bundle.subarray(13, 13 + SALT_BYTES),
    nonce: bundle.subarray(13 + SALT_BYTES, 13 + SALT_BYTES + NONCE_BYTES),
    length,
  };
}

/**
 * Opens a bundle: its payload, parsed. A wrong passphrase and an altered byte look alike
 * (the tag fails) and are refused alike; nothing of the payload is returned unless it is intact.
 */
export async function openBundle(bundle: Buffer, passphrase: string): Promise<unknown> {
  const { params, salt, nonce, length } = readHeader(bundle);
  if (passphrase.length === 0 || passphrase.length > MAX_PASSPHRASE_CHARS)
    throw new BundleError("bundle_authentication_failed", "Give the bundle's passphrase");
  const key = await deriveKey(passphrase, salt, params);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(bundle.subarray(0, HEADER_BYTES));
  decipher.setAuthTag(bundle.subarray(HEADER_BYTES + length));
  let plain: Buffer;
  try {
    plain = Buffer.concat([
      decipher.update(bundle.subarray(HEADER_BYTES, HEADER_BYTES + length)),
      decipher.final(),
    ]);
  } catch {
    throw new BundleError(
      "bundle_authentication_failed",
      "The bundle could not be opened: the passphrase is wrong, or the file was altered",
    );
  } finally {
    key.fill(0);
  }
  try {
    return JSON.parse(plain.toString("utf8"));
  } catch {
    // Authentic yet not JSON: made by something other than Berth with the right passphrase.
    throw new BundleError("bundle_malformed", "The bundle's contents are not a Berth export");
  } finally {
    plain.fill(0);
  }
}
