import type { Logger } from "../observability/logger.js";
import type { Db } from "../store/store.js";
import { makeScramVerifier } from "./scram.js";

/**
 * Makes the SCRAM verifier of an account whose secret was just verified in cleartext, when it has
 * none yet (accounts from before the PostgreSQL front door, tokens made before it). In the
 * background: a sign-in is neither slowed nor failed by it, and the next one tries again.
 *
 * Each write is conditional, so a late one never undoes a change made meanwhile: a user's only if
 * the password is still the one that was verified (or it would open the old password at the front
 * door), a token's only while the token is neither revoked nor expired.
 */
export function createVerifierWriter(deps: { db: Db; clock?: () => Date; log?: Pick<Logger, "warn"> }) {
  const clock = deps.clock ?? (() => new Date());
  /** One derivation per account at a time, however many sign-ins race. */
  const inFlight = new Set<string>();

  function inBackground(key: string, write: () => Promise<unknown>): Promise<void> {
    if (inFlight.has(key)) return Promise.resolve();
    inFlight.add(key);
    return write()
      .then(() => undefined)
      .catch((err: unknown) => {
        // The message only: the verifier is not a secret that replays, but it stays out of logs too.
        deps.log?.warn(
          { reason: err instanceof Error ? err.message : "unknown" },
          "could not store a SCRAM verifier; the next sign-in makes it again",
        );
      })
      .finally(() => inFlight.delete(key));
  }

  return {
    /** Never rejects; the promise is for tests and shutdown, callers need not await it. */
    forUser(user: { id: string; password_hash: string | null }, password: string): Promise<void> {
      const passwordHash = user.password_hash;
      if (passwordHash === null) return Promise.resolve();
      return inBackground(`user:${user.id}`, async () => {
        const verifier = await makeScramVerifier(password);
        await deps.db
          .updateTable("users")
          .set({ scram_verifier: verifier })
          .where("id", "=", user.id)
          .where("password_hash", "=", passwordHash)
          .where("scram_verifier", "is", null)
          .execute();
      });
    },

    /** Never rejects; see forUser. */
    forToken(token: { id: string }, secret: string): Promise<void> {
      return inBackground(`token:${token.id}`, async () => {
        const verifier = await makeScramVerifier(secret);
        await deps.db
          .updateTable("service_tokens")
          .set({ scram_verifier: verifier })
          .where("id", "=", token.id)
          .where("scram_verifier", "is", null)
          .where("revoked_at", "is", null)
          .where("expires_at", ">", clock().toISOString())
          .execute();
      });
    },
  };
}

export type VerifierWriter = ReturnType<typeof createVerifierWriter>;
