import { randomUUID } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import type { GoogleSettings } from "../config/google-settings.js";
import { PermissionDeniedError, UnauthenticatedError, UnavailableError } from "../errors/berth-error.js";
import type { UserRow } from "../store/schema.js";
import type { Db } from "../store/store.js";

export type { GoogleSettings };

export interface GoogleIdentity {
  sub: string;
  email: string;
}

/**
 * Verifies Google ID tokens with jose against Google's published keys: signature, issuer, audience,
 * expiry, `email_verified`, and the hosted domain when one is configured. A key server that cannot
 * be reached is UNAVAILABLE — the token may well be fine — never "invalid token".
 */
export function createGoogleVerifier(settings: GoogleSettings) {
  const jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
  });
  return async function verify(idToken: string): Promise<GoogleIdentity> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer: [...settings.issuers],
        audience: [...settings.clientIds],
        algorithms: ["RS256"],
      }));
    } catch (err) {
      throw googleError(err);
    }
    if (payload.email_verified !== true) {
      throw new UnauthenticatedError(
        "Google has not verified this account's email address",
        "email_not_verified",
      );
    }
    if (settings.hostedDomain && payload.hd !== settings.hostedDomain) {
      throw new UnauthenticatedError(
        `Only accounts of ${settings.hostedDomain} may sign in`,
        "wrong_hosted_domain",
      );
    }
    if (typeof payload.sub !== "string" || typeof payload.email !== "string") {
      throw new UnauthenticatedError("The ID token has no subject or email", "invalid_token");
    }
    return { sub: payload.sub, email: payload.email.toLowerCase() };
  };
}

function googleError(err: unknown): Error {
  if (err instanceof errors.JWTExpired)
    return new UnauthenticatedError("The Google ID token has expired; sign in again", "token_expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new UnauthenticatedError(
      `The Google ID token's "${err.claim}" claim is not accepted here`,
      `invalid_${err.claim}`,
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return new UnauthenticatedError(
      "The Google ID token is signed with a key Google does not publish",
      "unknown_key",
    );
  }
  if (
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid
  ) {
    return new UnauthenticatedError("The Google ID token is not valid", "invalid_token");
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || isNetworkError(err)) {
    return new UnavailableError("Google's signing keys cannot be fetched right now; try again shortly", {
      reason: "jwks_unavailable",
    });
  }
  return new UnauthenticatedError("The Google ID token is not valid", "invalid_token");
}

function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string }; name?: string; message?: string };
  const code = e?.cause?.code ?? e?.code ?? "";
  return (
    /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|UND_ERR/.test(code) ||
    e?.name === "TypeError" ||
    /fetch failed/.test(e?.message ?? "")
  );
}

/**
 * The Berth user for a Google identity, keyed by `sub` (never by email: addresses can change hands).
 * The first sign-in provisions a member named `google:<sub>` — a name local users cannot have — so
 * a local account can never take over a Google identity.
 */
export async function userForGoogle(
  db: Db,
  identity: GoogleIdentity,
  settings: GoogleSettings,
  now: Date,
): Promise<UserRow> {
  const existing = await db
    .selectFrom("users")
    .selectAll()
    .where("google_sub", "=", identity.sub)
    .executeTakeFirst();
  if (existing) {
    if (existing.google_email !== identity.email) {
      await db
        .updateTable("users")
        .set({ google_email: identity.email })
        .where("id", "=", existing.id)
        .execute();
      return { ...existing, google_email: identity.email };
    }
    return existing;
  }
  const domain = identity.email.split("@")[1] ?? "";
  if (settings.allowedDomains.length > 0 && !settings.allowedDomains.includes(domain)) {
    throw new PermissionDeniedError(
      `Accounts of ${domain} are not admitted to this Berth`,
      "domain_not_allowed",
    );
  }
  const row: UserRow = {
    id: randomUUID(),
    username: `google:${identity.sub}`,
    password_hash: null,
    role: "member",
    google_sub: identity.sub,
    google_email: identity.email,
    created_at: now.toISOString(),
    disabled: 0,
    scram_verifier: null,
  };
  await db.insertInto("users").values(row).execute();
  return row;
}
