import type { Db } from "../store/store.js";
import { currentPgwireUser, isPgwireSession } from "./pgwire-sessions.js";
import type { Principal } from "./principal.js";
import { currentServicePrincipal } from "./service-tokens.js";
import { sessionPrincipal } from "./sessions.js";

/**
 * Who a principal is *now*: the same session or service token read again from the store, or
 * undefined once it was signed out, revoked, expired, or its user disabled or deleted. Open access
 * (leases, session streams) is held by a principal resolved when it opened; this is how it is
 * re-checked when something about that principal changed.
 */
export type PrincipalRecheck = (principal: Principal) => Promise<Principal | undefined>;

export function createPrincipalRecheck(deps: { db: Db; clock?: () => Date }): PrincipalRecheck {
  const clock = deps.clock ?? (() => new Date());
  return async (principal) => {
    if (principal.kind === "service") return currentServicePrincipal(deps.db, principal, clock());
    // Signed in at the PostgreSQL front door: no session row, the user row (and password) decide.
    if (isPgwireSession(principal.sessionHash)) return currentPgwireUser(deps.db, principal);
    const found = await sessionPrincipal(deps.db, principal.sessionHash, clock());
    return typeof found === "string" ? undefined : found;
  };
}
