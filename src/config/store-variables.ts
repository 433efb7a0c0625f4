import { z } from "zod";

const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full", "no-verify"];

/** A postgres:// URL pg can use; the reasons never repeat the value (it may hold a password). */
function storeUrlProblems(value: string | undefined, ctx: z.RefinementCtx): void {
  if (value === undefined) return;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a URL: postgres://user:password@host:5432/database" });
    return;
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:")
    ctx.addIssue({ code: "custom", message: "must be a postgres:// (or postgresql://) URL" });
  else if (u.hostname === "" && !u.searchParams.get("host"))
    ctx.addIssue({ code: "custom", message: "must name the server: postgres://user:password@host/database" });
  else if (u.pathname.length <= 1)
    ctx.addIssue({
      code: "custom",
      message: "must name the database: postgres://user:password@host/database",
    });
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode !== null && !SSL_MODES.includes(sslmode))
    ctx.addIssue({ code: "custom", message: `sslmode must be one of ${SSL_MODES.join(", ")}` });
}

/**
 * Where Berth keeps its data: SQLite in the data directory, or the shared PostgreSQL store; and the
 * master key that opens the keyring kept with it (the rule tying it to BERTH_KMS is in key-settings.ts).
 */
export const storeVariables = {
  BERTH_DATA_DIR: z.string().min(1).default("./data"),
  BERTH_STORE_URL: z.string().optional().superRefine(storeUrlProblems),
  BERTH_MASTER_KEY: masterKey(),
  // The master key being replaced (shared mode): what only it unwraps is rewrapped at start.
  BERTH_MASTER_KEY_PREVIOUS: masterKey(),
};

function masterKey() {
  return z
    .string()
    .optional()
    .refine((v) => v === undefined || Buffer.from(v, "base64").length === 32, {
      message: "must be 32 bytes encoded as base64 (for example: openssl rand -base64 32)",
    });
}
