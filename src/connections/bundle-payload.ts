import { z } from "zod";
import { ACCESS_LEVELS, type AccessLevel } from "../access/levels.js";
import { BundleError } from "./bundle-format.js";
import type { ConnectionSpecInput } from "./settings.js";

/** A grant by principal name: user ids differ between Berths, names are what people share. */
export interface NamedGrant {
  kind: "user" | "google";
  /** A username, or a Google address. */
  principal: string;
  level: AccessLevel;
}

export interface BundledConnection {
  /** As a caller would send it to Create, credentials included. */
  spec: ConnectionSpecInput;
  grants: NamedGrant[];
}

/** What a bundle holds once opened (the JSON inside the ciphertext). */
export interface BundlePayload {
  format: "berth.bundle";
  version: 1;
  exportedAt: string;
  exportedBy: string;
  connections: BundledConnection[];
}

/**
 * Connections per bundle. An import tests each one (a network probe) and creates each one, charged
 * to the caller's budgets of 30 tests and 10 creations an hour: more than 100 could never be imported.
 */
export const MAX_BUNDLE_CONNECTIONS = 100;

const str = z.string().max(70_000).optional();
const int = z.number().int().optional();
const bool = z.boolean().optional();

/**
 * The spec's fields and types; what they may hold is validateSpec's business, as for any Create.
 * Strict: a field this Berth does not know would otherwise be dropped without a word.
 */
const specSchema = z
  .object({
    name: str,
    type: str,
    server: str,
    port: int,
    database: str,
    username: str,
    password: str,
    useSsl: bool,
    sslMode: str,
    caCertificate: str,
    clientCertificate: str,
    clientKey: str,
    tlsServerName: str,
    instanceName: str,
    strictEncryption: bool,
    oracleSid: str,
    allowCleartextPassword: bool,
    frontDoorPoolMode: str,
    maxReplicaLagMs: int,
    maxPoolSize: int,
    minPoolSize: int,
    acquireTimeoutMs: int,
    idleTimeoutMs: int,
    maxLifetimeMs: int,
    replicas: z
      .array(z.object({ server: str, port: int }).strict())
      .max(64)
      .optional(),
    description: str,
    ssh: z
      .object({
        host: str,
        port: int,
        user: str,
        privateKey: str,
        passphrase: str,
        password: str,
        hostKey: str,
      })
      .strict()
      .optional(),
  })
  .strict();

const payloadSchema = z
  .object({
    format: z.literal("berth.bundle"),
    version: z.literal(1),
    exportedAt: z.string().max(64),
    exportedBy: z.string().max(256),
    connections: z
      .array(
        z
          .object({
            spec: specSchema,
            grants: z
              .array(
                z
                  .object({
                    kind: z.enum(["user", "google"]),
                    principal: z.string().min(1).max(320),
                    level: z.enum(ACCESS_LEVELS),
                  })
                  .strict(),
              )
              .max(10_000),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_BUNDLE_CONNECTIONS),
  })
  .strict();

/** An opened bundle's payload, checked for shape (the issues name fields, never values: they hold secrets). */
export function parsePayload(value: unknown): BundlePayload {
  const parsed = payloadSchema.safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(top)"}: ${i.code}`)
      .join("; ");
    throw new BundleError(
      "bundle_malformed",
      `The bundle's contents are not a Berth export this version reads (${where})`,
    );
  }
  return parsed.data as BundlePayload;
}
