import { createHash, randomBytes } from "node:crypto";
import type { UserRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import type { Principal } from "./principal.js";

/**
 * A person signed in at the PostgreSQL front door. There is no session row: the client's
 * connection is the session. Its `sessionHash` is `pgwire:<password fingerprint>:<random>`, so
 * that a re-check can tell the password changed since sign-in and end the connection.
 *
 * The fingerprint is taken of the stored password hash, not of the SCRAM verifier: the hash
 * changes exactly when the password does, while a verifier may be made after the sign-in (lazily,
 * from a cleartext password) without the password changing.
 */
const PREFIX = "pgwire:";
/** Front-door sessions end with the client's connection, or a re-check; not by time. */
const FAR_FUTURE = new Date(8.64e15);

export function isPgwireSession(sessionHash: string): boolean {
  return sessionHash.startsWith(PREFIX);
}

export function passwordFingerprint(passwordHash: string): string {
  return createHash("sha256").update(passwordHash).digest("hex").slice(0, 16);
}

type SignedInUser = Pick<UserRow, "id" | "username" | "role" | "google_email" | "password_hash" | "disabled">;

/** The principal of a user who just signed in at the front door, or undefined if they cannot. */
export function pgwirePrincipal(user: SignedInUser): Principal | undefined {
  if (user.disabled || user.password_hash === null) return undefined;
  const sessionHash = `${PREFIX}${passwordFingerprint(user.password_hash)}:${randomBytes(16).toString("base64url")}`;
  return userPrincipal(user, sessionHash);
}

/**
 * Who a front-door user principal is now: the user read again, with the same session hash and
 * the current role and name; undefined once the user was deleted, disabled, lost the password, or
 * the password changed since sign-in.
 */
export async function currentPgwireUser(db: Db, principal: Principal): Promise<Principal | undefined> {
  const fingerprint = principal.sessionHash.slice(PREFIX.length).split(":")[0];
  const row = await db
    .selectFrom("users")
    .select(["id", "username", "role", "google_email", "password_hash", "disabled"])
    .where("id", "=", principal.userId)
    .executeTakeFirst();
  if (!row || row.disabled || row.password_hash === null) return undefined;
  if (passwordFingerprint(row.password_hash) !== fingerprint) return undefined;
  return userPrincipal(row, principal.sessionHash);
}

function userPrincipal(user: SignedInUser, sessionHash: string): Principal {
  return {
    kind: "user",
    userId: user.id,
    username: user.username,
    role: user.role,
    googleEmail: user.google_email,
    sessionHash,
    sessionExpiresAt: FAR_FUTURE,
  };
}
