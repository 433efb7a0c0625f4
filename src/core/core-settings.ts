import type { Config } from "../config/config.js";

/** The settings the core uses: a slice of Config, so tests can pass their own. */
export type CoreSettings = Pick<
  Config,
  | "testTimeoutMs"
  | "sessionTtlMs"
  | "authCacheTtlMs"
  | "connectTimeoutMs"
  | "healthIntervalMs"
  | "statementTimeoutMs"
  | "rowBatchBytes"
  | "cancelGraceMs"
  | "shutdownGraceMs"
  | "loginFailureLimit"
  | "loginSourceFailureLimit"
  | "loginFailureWindowMs"
  | "loginFailureDelayMs"
  | "google"
  | "redisUrl"
  | "rateLimits"
  | "requireTls"
> &
  // Optional so that tests may leave them out: the defaults (24 h; the default denials; 300 ms) apply.
  Partial<
    Pick<
      Config,
      | "leaseMaxLifetimeMs"
      | "targets"
      | "redisCommandTimeoutMs"
      | "audit"
      | "budgetTtlMs"
      | "createInitializesPool"
    >
  >;
