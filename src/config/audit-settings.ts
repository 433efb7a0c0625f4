import { join } from "node:path";
import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";
import type { storeVariables } from "./store-variables.js";

// The shape lives here, below audit/retention.ts that uses it, so that config depends on nothing above it.
/** How long things are kept (RFC 002 §9.1): 0 = forever. */
export interface RetentionPolicy {
  /** Connection test and validation results (the latest per connection is always kept). */
  checksDays: number;
  /** Audit events. */
  auditDays: number;
  /** Connections nobody changed, tested or used for this long are deleted. */
  inactiveConnectionDays: number;
}

export interface AuditSettings {
  /** Append-only file of signed checkpoints; default <dataDir>/audit-checkpoints.jsonl. */
  readonly checkpointFile: string;
  /** A checkpoint after this many events… */
  readonly checkpointEvery: number;
  /** …or after this long when events came (0 = by count only). */
  readonly checkpointIntervalMs: number;
  /** "stdout" or "file:<path>": every event as a JSON line; undefined = none. */
  readonly export: string | undefined;
}

/** What is kept and for how long, and the audit chain's checkpoints and copy. */
export const auditVariables = {
  BERTH_RETENTION_CHECKS_DAYS: z.coerce.number().int().min(0).max(36_500).default(30),
  BERTH_RETENTION_AUDIT_DAYS: z.coerce.number().int().min(0).max(36_500).default(90),
  // RFC 002 §9.1: inactive connections are kept 6 months.
  BERTH_RETENTION_INACTIVE_CONNECTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(183),
  BERTH_AUDIT_CHECKPOINT_FILE: z.string().optional(),
  BERTH_AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(1).max(1_000_000).default(100),
  BERTH_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  BERTH_AUDIT_EXPORT: z
    .string()
    .regex(/^(stdout|file:.+)$/, 'must be "stdout" or "file:<path>"')
    .optional(),
};

type AuditVariables = ParsedVariables<typeof auditVariables>;

export function retentionPolicy(c: AuditVariables): RetentionPolicy {
  return Object.freeze({
    checksDays: c.BERTH_RETENTION_CHECKS_DAYS,
    auditDays: c.BERTH_RETENTION_AUDIT_DAYS,
    inactiveConnectionDays: c.BERTH_RETENTION_INACTIVE_CONNECTION_DAYS,
  });
}

/** The checkpoint file defaults to the data directory, outside the store it vouches for. */
export function auditSettings(c: AuditVariables & ParsedVariables<typeof storeVariables>): AuditSettings {
  return Object.freeze({
    checkpointFile: c.BERTH_AUDIT_CHECKPOINT_FILE ?? join(c.BERTH_DATA_DIR, "audit-checkpoints.jsonl"),
    checkpointEvery: c.BERTH_AUDIT_CHECKPOINT_EVERY,
    checkpointIntervalMs: c.BERTH_AUDIT_CHECKPOINT_INTERVAL_MS,
    export: c.BERTH_AUDIT_EXPORT,
  });
}
