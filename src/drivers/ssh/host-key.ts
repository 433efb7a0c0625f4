import { createHash } from "node:crypto";

/** Host key types a bastion may present (OpenSSH names; RSA keys are `ssh-rsa` whatever they sign with). */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;

/**
 * A host key in OpenSSH known_hosts key format, `type base64 [comment]` (a leading host pattern,
 * as in a known_hosts line, is accepted and ignored). Returns the key blob, or why it is not one.
 */
export function parseHostKey(text: string): { type: string; blob: Buffer } | { problem: string } {
  const words = text.trim().split(/\s+/);
  const at = words.findIndex((w) => (HOST_KEY_TYPES as readonly string[]).includes(w));
  if (at < 0 || at > 1)
    return {
      problem: `must be a host key in known_hosts format: "<type> <base64>", type one of ${HOST_KEY_TYPES.join(", ")}`,
    };
  const type = words[at]!;
  const b64 = words[at + 1] ?? "";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { problem: "must have the key's base64 after its type" };
  const blob = Buffer.from(b64, "base64");
  if (blobType(blob) !== type) return { problem: `the base64 is not a ${type} key` };
  return { type, blob };
}

/** The key type written at the head of an SSH public key blob (string length, then the name). */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n > 64 || blob.length < 4 + n) return undefined;
  return blob.subarray(4, 4 + n).toString("latin1");
}

/** `type base64`, the form to pin (known_hosts key format). */
export function formatHostKey(blob: Buffer): string {
  return `${blobType(blob) ?? "unknown"} ${blob.toString("base64")}`;
}

/** OpenSSH's fingerprint, `SHA256:` and unpadded base64, as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}
