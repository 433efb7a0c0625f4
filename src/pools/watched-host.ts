import type { ReplicationState } from "../drivers/replication.js";
import type { HostHealthSnapshot } from "./host-snapshot.js";
import type { ConnectionPool } from "./pool.js";
import type { HostRole } from "./roles.js";

/** A host the health monitor checks: its pool, what was last seen of it, and its check's schedule. */
export interface Watched {
  pool: ConnectionPool;
  /** 0 for the connection's `server`, then its replicas in order. */
  slot: number;
  snapshot: HostHealthSnapshot;
  /** The last answer to the replication question (kept while the host is silent, for the status). */
  replication: ReplicationState | undefined;
  answering: boolean;
  /** A check has ended (either way) since the host was watched. */
  checked: boolean;
  timer: NodeJS.Timeout | undefined;
  /** performance.now() when the pending timer fires. */
  dueAt: number;
  /** performance.now() of the last check's start. */
  lastStartedAt: number;
  backoffMs: number;
  running: boolean;
}

export interface HealthEvents {
  /** A host's status, role or fenced flag changed (what WatchConnectionStatus streams). */
  change: [connectionId: string, host: HostHealthSnapshot];
  /** A host's observed role changed (from the configured one, the first time it is seen). */
  role: [connectionId: string, host: HostHealthSnapshot, from: HostRole];
  /** A host takes writes although another was promoted past it (or is the primary): given nothing. */
  fenced: [connectionId: string, host: HostHealthSnapshot];
  /** The host writes went to lost that role: its pool is retired, sessions on it end. */
  demoted: [connectionId: string, pool: ConnectionPool];
}
