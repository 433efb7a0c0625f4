import type { ConnectionSettings, Credentials } from "../connections/settings.js";
import type { Driver, DriverSession } from "../drivers/driver.js";
import type { BerthError } from "../errors/berth-error.js";
import type { Permit, SessionBudget } from "./budget.js";

/** A pooled session with what the pool needs to know about it. */
export interface PooledSession {
  readonly id: number;
  readonly session: DriverSession;
  readonly createdAt: number;
  lastReleasedAt: number;
  /**
   * Session state left behind on purpose by a borrower that keeps it between its own transactions
   * (the PostgreSQL front door's settings): a borrower that expects a clean session has it reset first.
   */
  carriesState: boolean;
  /** Bumped by every reset: state a borrower remembers about this session is stale once it changes. */
  generation: number;
  /** Its share of the connection budget shared across instances (none without one). */
  readonly permit?: Permit | undefined;
}

export interface PoolStatsSnapshot {
  /** Sessions open or being opened: idle + inUse + opening. */
  size: number;
  idle: number;
  inUse: number;
  /** Sessions being opened: each holds a slot of maxSize until the open ends (a hung host holds them all). */
  opening: number;
  waiting: number;
  maxSize: number;
  minSize: number;
  /** Over the last minute: 95th percentile of the wait for a session, and of statement durations. */
  acquireWaitP95Ms: number;
  queryP95Ms: number;
  queriesLastMinute: number;
}

/** Why a session left the pool, as a named table rather than scattered ifs (DESIGN §2 rule 7). */
export type DestroyReason =
  | "unhealthy"
  | "max_lifetime"
  | "idle"
  | "reset_failed"
  | "pool_closed"
  | "validation_failed"
  | "caller"
  /** Its permit of the shared connection budget was lost (see Permit.lost). */
  | "permit_lost"
  /** Other instances wait for the shared budget and this pool held more than its share. */
  | "over_share";

export interface PoolEvents {
  created: [PooledSession];
  destroyed: [PooledSession, DestroyReason];
  createFailed: [BerthError];
  acquired: [waitMs: number];
  /** A caller got no session in time: pool_exhausted, or why the database gave none. */
  acquireFailed: [reason: string];
}

export interface ConnectionPoolOptions {
  connectionId: string;
  /** The primary, or one of the connection's read replicas (its settings then name that host). */
  role?: "primary" | "replica";
  settings: ConnectionSettings;
  credentials: Credentials;
  driver: Driver;
  /** Bound for opening one database session. */
  connectTimeoutMs: number;
  /** The budget shared with other Berth instances; absent: maxPoolSize bounds this pool alone. */
  budget?: SessionBudget | undefined;
}

/** A caller queued for a session. */
export interface Waiter {
  resolve(p: PooledSession): void;
  reject(err: BerthError): void;
  timer: NodeJS.Timeout;
  since: number;
}
