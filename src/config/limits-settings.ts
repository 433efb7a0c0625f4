import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";

/** The PostgreSQL front door's port and bounds. */
export interface FrontDoorSettings {
  /** 0: any free port. */
  readonly port: number;
  readonly maxClients: number;
  readonly maxClientsPerSource: number;
  /** Startup and sign-in must be done within this (BERTH_HEADERS_TIMEOUT_MS). */
  readonly startupTimeoutMs: number;
}

export interface ConnectionLimits {
  /** A new connection must send a complete request head (HTTP/1) or open a stream (HTTP/2) within this. */
  readonly headersTimeoutMs: number;
  /** An HTTP/1 request (head and body) must arrive completely within this. */
  readonly requestTimeoutMs: number;
  /** A connection with no request in flight (no open HTTP/2 stream) is closed after this. */
  readonly idleTimeoutMs: number;
  /** Open connections from one address; more are refused at once. */
  readonly maxConnectionsPerSource: number;
}

/**
 * The bounds Berth keeps: the front door's clients, the time each database call may take, sign-in
 * failures, the budget shared through Redis, and the main port's connections.
 */
export const limitsVariables = {
  BERTH_PG_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BERTH_PG_MAX_CLIENTS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  BERTH_PG_MAX_CLIENTS_PER_SOURCE: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  BERTH_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  BERTH_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  BERTH_CANCEL_GRACE_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  BERTH_LEASE_MAX_LIFETIME_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(7 * 24 * 3_600_000)
    .default(24 * 3_600_000),
  BERTH_ROW_BATCH_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(4 * 1024 * 1024)
    .default(64 * 1024),
  BERTH_HEALTH_INTERVAL_MS: z.coerce.number().int().min(500).max(3_600_000).default(10_000),
  BERTH_AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
  BERTH_LOGIN_FAILURE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(100),
  BERTH_LOGIN_FAILURE_WINDOW_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(3_600_000),
  BERTH_LOGIN_FAILURE_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(250),
  BERTH_LOGIN_SOURCE_FAILURE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(300),
  BERTH_REDIS_URL: z.string().url().optional(),
  BERTH_REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(300),
  BERTH_BUDGET_TTL_MS: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
  BERTH_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  BERTH_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  BERTH_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(65_000),
  BERTH_MAX_CONNECTIONS_PER_SOURCE: z.coerce.number().int().min(1).max(1_000_000).default(256),
};

type LimitsVariables = ParsedVariables<typeof limitsVariables>;

/** The front door is off unless BERTH_PG_PORT is set; its sign-in shares the HTTP head's deadline. */
export function frontDoorSettings(c: LimitsVariables): FrontDoorSettings | undefined {
  return c.BERTH_PG_PORT === undefined
    ? undefined
    : Object.freeze({
        port: c.BERTH_PG_PORT,
        maxClients: c.BERTH_PG_MAX_CLIENTS,
        maxClientsPerSource: c.BERTH_PG_MAX_CLIENTS_PER_SOURCE,
        startupTimeoutMs: c.BERTH_HEADERS_TIMEOUT_MS,
      });
}

export function connectionLimits(c: LimitsVariables): ConnectionLimits {
  return Object.freeze({
    headersTimeoutMs: c.BERTH_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: c.BERTH_REQUEST_TIMEOUT_MS,
    idleTimeoutMs: c.BERTH_IDLE_TIMEOUT_MS,
    maxConnectionsPerSource: c.BERTH_MAX_CONNECTIONS_PER_SOURCE,
  });
}
