import type { Logger } from "../observability/logger.js";
import type { UserRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { verifyPassword } from "./passwords.js";
import { pgwirePrincipal } from "./pgwire-sessions.js";
import type { Principal } from "./principal.js";
import { parseScramVerifier, type ScramVerifier, verifySecretWithVerifier } from "./scram.js";
import { createVerifierWriter } from "./scram-verifiers.js";
import { hasServiceTokenShape, principalOf } from "./service-tokens.js";
import { hashToken } from "./sessions.js";
import { findUserByUsername } from "./users.js";

/** Who the startup message's `user` names at the PostgreSQL front door, and how to check them. */
export interface FrontDoorAccount {
  readonly kind: "user" | "service";
  /** Lower-cased account name for the sign-in throttle. */
  readonly account: string;
  /** The SCRAM verifier, or undefined when none was made yet (then only cleartext — over TLS or loopback — can sign in, and that makes one). */
  readonly verifier: ScramVerifier | undefined;
  /** Checks a cleartext secret (password or service token) and, when it holds, makes the missing verifier. */
  verifySecret(secret: string): Promise<boolean>;
  /** The principal this account stands for now; undefined when disabled/revoked/expired. Call after authentication succeeded. */
  principal(): Promise<Principal | undefined>;
}

/** As the HTTP sign-in: longer is not a password, and would only make the derivations slower. */
const MAX_SECRET_LENGTH = 1024;
const MAX_NAME_LENGTH = 128;

type TokenRow = Awaited<ReturnType<typeof activeTokens>>[number];

function activeTokens(db: Db, name: string, now: Date, tokenHash?: string) {
  let query = db
    .selectFrom("service_tokens")
    .selectAll()
    .where("name", "=", name)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", now.toISOString());
  if (tokenHash !== undefined) query = query.where("token_hash", "=", tokenHash);
  return query.orderBy("created_at", "desc").execute();
}

/**
 * The accounts of the front door. A name is a user's name first (exactly, as at the HTTP
 * sign-in); otherwise a service token's name. Users who cannot sign in with a password (disabled,
 * or Google-only) and names without an active token answer undefined: the front door then runs
 * its mock exchange, so that unknown and known names look alike.
 */
export function createFrontDoorAccounts(deps: { db: Db; clock?: () => Date; log?: Pick<Logger, "warn"> }) {
  const clock = deps.clock ?? (() => new Date());
  const verifiers = createVerifierWriter({ db: deps.db, clock, ...(deps.log ? { log: deps.log } : {}) });

  function userAccount(user: UserRow & { password_hash: string }): FrontDoorAccount {
    const verifier = parseScramVerifier(user.scram_verifier);
    return {
      kind: "user",
      account: user.username.toLowerCase(),
      verifier,
      async verifySecret(secret) {
        if (secret === "" || secret.length > MAX_SECRET_LENGTH) return false;
        if (verifier) return verifySecretWithVerifier(verifier, secret);
        const ok = await verifyPassword(secret, user.password_hash);
        if (ok) void verifiers.forUser(user, secret);
        return ok;
      },
      async principal() {
        const row = await deps.db
          .selectFrom("users")
          .selectAll()
          .where("id", "=", user.id)
          .executeTakeFirst();
        // A password changed since the lookup is not the one that was just proven.
        if (!row || row.password_hash !== user.password_hash) return undefined;
        return pgwirePrincipal(row);
      },
    };
  }

  function tokenAccount(newest: TokenRow): FrontDoorAccount {
    // SCRAM proves the newest token of the name (one verifier per exchange); cleartext, any active one.
    let proven = newest;
    return {
      kind: "service",
      account: newest.name.toLowerCase(),
      verifier: parseScramVerifier(newest.scram_verifier),
      async verifySecret(secret) {
        if (!hasServiceTokenShape(secret)) return false;
        const [match] = await activeTokens(deps.db, newest.name, clock(), hashToken(secret));
        if (!match) return false;
        proven = match;
        if (match.scram_verifier === null) void verifiers.forToken(match, secret);
        return true;
      },
      async principal() {
        const row = await deps.db
          .selectFrom("service_tokens")
          .selectAll()
          .where("id", "=", proven.id)
          .executeTakeFirst();
        if (!row || row.revoked_at !== null || new Date(row.expires_at) <= clock()) return undefined;
        // Keyed by the token's hash, as a bearer token's principal: revoking the token ends it.
        return principalOf(row, row.token_hash);
      },
    };
  }

  return {
    async lookup(name: string): Promise<FrontDoorAccount | undefined> {
      if (name === "" || name.length > MAX_NAME_LENGTH) return undefined;
      const user = await findUserByUsername(deps.db, name);
      if (user) {
        if (user.disabled || user.password_hash === null) return undefined;
        return userAccount({ ...user, password_hash: user.password_hash });
      }
      const [newest] = await activeTokens(deps.db, name, clock());
      return newest ? tokenAccount(newest) : undefined;
    },
  };
}

export type FrontDoorAccounts = ReturnType<typeof createFrontDoorAccounts>;
