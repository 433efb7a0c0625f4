import { z } from "zod";
import type { VaultTransitOptions } from "../crypto/vault-transit.js";
import type { ParsedVariables } from "./parsed-variables.js";
import type { storeVariables } from "./store-variables.js";

const mountPath = () => z.string().regex(/^[\w-]+(\/[\w-]+)*$/, "must be a mount path");

/** Which key provider encrypts new secrets, and how to reach Vault transit. */
export const keyVariables = {
  BERTH_KMS: z.enum(["local", "vault"]).default("local"),
  BERTH_VAULT_ADDR: z.string().url().optional(),
  BERTH_VAULT_TOKEN: z.string().optional(),
  BERTH_VAULT_ROLE_ID: z.string().optional(),
  BERTH_VAULT_SECRET_ID: z.string().optional(),
  BERTH_VAULT_APPROLE_MOUNT: mountPath().default("approle"),
  BERTH_VAULT_TRANSIT_MOUNT: mountPath().default("transit"),
  BERTH_VAULT_KEY: z
    .string()
    .regex(/^[\w.-]+$/, "must be a transit key name")
    .default("berth"),
  BERTH_VAULT_NAMESPACE: z.string().optional(),
  BERTH_VAULT_CACERT: z.string().optional(),
  BERTH_VAULT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(1_500),
  BERTH_VAULT_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
};

type KeyVariables = ParsedVariables<typeof keyVariables>;

/** Rules between the key variables (and the store's, which decides where the keyring lives). */
export function keyProblems(c: KeyVariables & ParsedVariables<typeof storeVariables>): string[] {
  const problems: string[] = [];
  if (c.BERTH_KMS === "vault" && !c.BERTH_VAULT_ADDR)
    problems.push("BERTH_VAULT_ADDR: is required with BERTH_KMS=vault");
  // Shared mode: a keyring file per instance would make each unable to read what the others wrote.
  if (c.BERTH_STORE_URL && c.BERTH_KMS !== "vault" && !c.BERTH_MASTER_KEY)
    problems.push(
      "BERTH_MASTER_KEY: is required with BERTH_STORE_URL (shared mode) unless BERTH_KMS=vault: the keyring lives in the store, wrapped by this key, and every instance needs the same one (make one with: openssl rand -base64 32)",
    );
  if (c.BERTH_MASTER_KEY_PREVIOUS && !(c.BERTH_STORE_URL && c.BERTH_MASTER_KEY))
    problems.push(
      "BERTH_MASTER_KEY_PREVIOUS: is only for replacing the master key of a shared store: give it with BERTH_STORE_URL and the new BERTH_MASTER_KEY",
    );
  if (c.BERTH_MASTER_KEY_PREVIOUS && c.BERTH_MASTER_KEY_PREVIOUS === c.BERTH_MASTER_KEY)
    problems.push(
      "BERTH_MASTER_KEY_PREVIOUS: is the same key as BERTH_MASTER_KEY; give the key being replaced",
    );
  if (c.BERTH_VAULT_ADDR && !c.BERTH_VAULT_TOKEN && !(c.BERTH_VAULT_ROLE_ID && c.BERTH_VAULT_SECRET_ID))
    problems.push(
      "BERTH_VAULT_TOKEN: is required with BERTH_VAULT_ADDR (or BERTH_VAULT_ROLE_ID and BERTH_VAULT_SECRET_ID for AppRole)",
    );
  if (Boolean(c.BERTH_VAULT_ROLE_ID) !== Boolean(c.BERTH_VAULT_SECRET_ID))
    problems.push("BERTH_VAULT_SECRET_ID: AppRole needs both BERTH_VAULT_ROLE_ID and BERTH_VAULT_SECRET_ID");
  return problems;
}

/** Vault transit whenever BERTH_VAULT_ADDR is set: as the provider, or to read secrets it wrote. */
export function vaultSettings(c: KeyVariables): VaultTransitOptions | undefined {
  return c.BERTH_VAULT_ADDR
    ? Object.freeze({
        address: c.BERTH_VAULT_ADDR,
        token: c.BERTH_VAULT_TOKEN,
        appRole:
          c.BERTH_VAULT_ROLE_ID && c.BERTH_VAULT_SECRET_ID
            ? {
                roleId: c.BERTH_VAULT_ROLE_ID,
                secretId: c.BERTH_VAULT_SECRET_ID,
                mount: c.BERTH_VAULT_APPROLE_MOUNT,
              }
            : undefined,
        mount: c.BERTH_VAULT_TRANSIT_MOUNT,
        keyName: c.BERTH_VAULT_KEY,
        namespace: c.BERTH_VAULT_NAMESPACE,
        caCertFile: c.BERTH_VAULT_CACERT,
        timeoutMs: c.BERTH_VAULT_TIMEOUT_MS,
        retries: c.BERTH_VAULT_RETRIES,
      })
    : undefined;
}
