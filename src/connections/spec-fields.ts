/**
 * What every part of a connection spec's validation shares: the size limits and the checks of
 * plain text and port fields. Each part reports through `bad`, so that one pass collects every
 * problem of a spec.
 */

export const LIMITS = {
  nameChars: 100,
  databaseChars: 128,
  usernameChars: 128,
  passwordChars: 1024,
  pemChars: 64 * 1024,
  descriptionChars: 1000,
  replicas: 16,
  maxPoolSize: 1000,
  acquireTimeoutMs: { min: 100, max: 600_000 },
  idleTimeoutMs: { min: 1_000, max: 86_400_000 },
  maxLifetimeMs: { max: 7 * 86_400_000 },
} as const;

/** Records one problem of one field; validation goes on, so the caller sees all of them at once. */
export type Bad = (field: string, description: string) => void;

// Control characters have no business in names, databases or user names, and make logs lie.
const CONTROL = /[\p{Cc}\p{Cf}]/u;

/** A value as it may be quoted back in a message: a long one is cut. */
export function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

export function text(
  value: string | undefined,
  field: string,
  max: number,
  bad: Bad,
  required: boolean,
  multiline = false,
): string {
  const s = value ?? "";
  if (s === "") {
    if (required) bad(field, "is required");
    return s;
  }
  if (s.length > max) bad(field, `must be at most ${max} characters (got ${s.length})`);
  else if (!multiline && CONTROL.test(s)) bad(field, "must not contain control characters");
  else if (multiline && s.includes("\0")) bad(field, "must not contain NUL characters");
  else if (!multiline && s.trim() !== s) bad(field, "must not start or end with white space");
  return s;
}

export function portCheck(port: number, field: string, bad: Bad): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    bad(field, `must be an integer from 1 to 65535 (got ${port})`);
}
