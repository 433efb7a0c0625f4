import { createContextKey } from "@connectrpc/connect";

/** Who is calling. Travels in Connect context values, never in globals (DESIGN §2 rule 6). */
export interface Principal {
  readonly kind: "user";
  readonly userId: string;
  readonly username: string;
  readonly role: "admin" | "member";
  readonly googleEmail: string | null;
  /** Hash of the session token the call carried (for Logout). */
  readonly sessionHash: string;
  readonly sessionExpiresAt: Date;
}

export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "berth principal",
});
