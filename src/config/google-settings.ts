import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";

// The shape lives here, below identity/google.ts that uses it, so that config depends on nothing above it.
export interface GoogleSettings {
  /** OAuth client ids whose ID tokens are accepted (the `aud` claim). Empty: Google sign-in is off. */
  clientIds: readonly string[];
  jwksUrl: string;
  issuers: readonly string[];
  /** When set, the token's `hd` claim must equal it. */
  hostedDomain: string | undefined;
  /** When set, only addresses in these domains are provisioned on first sign-in. */
  allowedDomains: readonly string[];
}

export const googleVariables = {
  BERTH_GOOGLE_CLIENT_IDS: z.string().default(""),
  BERTH_GOOGLE_JWKS_URL: z.string().url().default("https://www.googleapis.com/oauth2/v3/certs"),
  BERTH_GOOGLE_ISSUERS: z.string().default("accounts.google.com,https://accounts.google.com"),
  BERTH_GOOGLE_HOSTED_DOMAIN: z.string().optional(),
  BERTH_GOOGLE_ALLOWED_DOMAINS: z.string().default(""),
};

export function googleSettings(c: ParsedVariables<typeof googleVariables>): GoogleSettings {
  return Object.freeze({
    clientIds: list(c.BERTH_GOOGLE_CLIENT_IDS),
    jwksUrl: c.BERTH_GOOGLE_JWKS_URL,
    issuers: list(c.BERTH_GOOGLE_ISSUERS),
    hostedDomain: c.BERTH_GOOGLE_HOSTED_DOMAIN,
    allowedDomains: list(c.BERTH_GOOGLE_ALLOWED_DOMAINS).map((d) => d.toLowerCase()),
  });
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
