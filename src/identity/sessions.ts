import { createHash, randomBytes } from "node:crypto";
import { UnauthenticatedError } from "../errors/berth-error.js";
import type { UserRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import type { Principal } from "./principal.js";

/** Opaque bearer tokens: 256 random bits, prefixed so they are recognisable in leak scanners. */
const TOKEN_PREFIX = "berth_s_";
const TOKEN_SHAPE = /^berth_s_[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

export interface IssuedSession {
  token: string;
  expiresAt: Date;
}

export async function issueSession(db: Db, user: UserRow, ttlMs: number, now: Date): Promise<IssuedSession> {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + ttlMs);
  await db
    .insertInto("sessions")
    .values({
      token_hash: hashToken(token),
      user_id: user.id,
      created_at: now.toISOString(),
      expires_at: expiresAt.toISOString(),
      revoked_at: null,
    })
    .execute();
  return { token, expiresAt };
}

/** Resolves a bearer token to its principal, or throws UnauthenticatedError with the reason. */
export async function authenticateToken(db: Db, token: string, now: Date): Promise<Principal> {
  if (!TOKEN_SHAPE.test(token))
    throw new UnauthenticatedError("The bearer token is malformed", "invalid_token");
  const found = await sessionPrincipal(db, hashToken(token), now);
  if (found === "unknown") {
    throw new UnauthenticatedError(
      "The session is unknown or was signed out; sign in again",
      "invalid_token",
    );
  }
  if (found === "expired")
    throw new UnauthenticatedError("The session has expired; sign in again", "token_expired");
  return found;
}

/**
 * The principal a session stands for now, by its token hash: "unknown" once it was signed out, its
 * user disabled or deleted; "expired" past its expiry. Used at sign-in of each call and again when
 * open access is re-checked after a revocation.
 */
export async function sessionPrincipal(
  db: Db,
  tokenHash: string,
  now: Date,
): Promise<Principal | "unknown" | "expired"> {
  const row = await db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .select([
      "sessions.expires_at",
      "sessions.revoked_at",
      "users.id",
      "users.username",
      "users.role",
      "users.google_email",
      "users.disabled",
    ])
    .where("sessions.token_hash", "=", tokenHash)
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || row.disabled) return "unknown";
  const expiresAt = new Date(row.expires_at);
  if (expiresAt <= now) return "expired";
  return {
    kind: "user",
    userId: row.id,
    username: row.username,
    role: row.role,
    googleEmail: row.google_email,
    sessionHash: tokenHash,
    sessionExpiresAt: expiresAt,
  };
}

export async function revokeSession(db: Db, tokenHash: string, now: Date): Promise<void> {
  await db
    .updateTable("sessions")
    .set({ revoked_at: now.toISOString() })
    .where("token_hash", "=", tokenHash)
    .where("revoked_at", "is", null)
    .execute();
}
