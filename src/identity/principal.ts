import { createContextKey } from "@connectrpc/connect";
import type { AccessLevel } from "../access/levels.js";

/** Who is calling. Travels in Connect context values, never in globals (DESIGN §2 rule 6). */
export interface Principal {
  /** A person (local or Google), or a service holding an API token. */
  readonly kind: "user" | "service";
  readonly userId: string;
  readonly username: string;
  readonly role: "admin" | "member";
  readonly googleEmail: string | null;
  /** Hash of the session token the call carried (for Logout). */
  readonly sessionHash: string;
  readonly sessionExpiresAt: Date;
  /** Service tokens only: the connections the token may reach, and the most it may do there. */
  readonly scope?: { readonly connectionIds: readonly string[]; readonly level: AccessLevel };
}

export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "berth principal",
});
