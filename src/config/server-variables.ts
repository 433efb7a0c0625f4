import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveMs = (fallback: number) => z.coerce.number().int().min(1).max(86_400_000).default(fallback);

/** Where the main port listens. */
export const listenerVariables = {
  BERTH_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_PORT: port(8080),
};

/** The API server's own settings: the first admin, logging, sessions, request sizes, shutdown. */
export const serverVariables = {
  BERTH_ADMIN_PASSWORD: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.length >= 12, { message: "must be at least 12 characters" }),
  BERTH_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  BERTH_SESSION_TTL_MS: positiveMs(12 * 3_600_000),
  BERTH_TEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(5_000),
  BERTH_CREATE_INITIALIZES_POOL: z.enum(["true", "false"]).default("false"),
  BERTH_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  // The bundle import's own body limit (README, Bundles): a bundle may hold 16 MiB (the format's cap).
  BERTH_MAX_BUNDLE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  BERTH_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  BERTH_GRPC_PORT: z.coerce.number().int().min(0).max(65535).optional(),
};

export type LogLevel = ParsedVariables<typeof serverVariables>["BERTH_LOG_LEVEL"];
