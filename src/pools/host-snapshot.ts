import type { ConnectionStatusId } from "../connections/settings.js";
import type { ConnectionPool } from "./pool.js";
import type { HostRole } from "./roles.js";

/** What the health checks know of one host of a connection (what WatchConnectionStatus streams). */
export interface HostHealthSnapshot {
  server: string;
  port: number;
  /** As the last check that could tell observed it; as configured until one has. */
  role: HostRole;
  /** Where the connection's configuration lists it: its `server` (primary) or a replica. */
  configuredRole: HostRole;
  /** The host's place in the configuration, as its audit events and metrics name it. */
  slot: string;
  status: ConnectionStatusId;
  lastCheckedAt: Date | undefined;
  lastErrorReason: string;
  lastLatencyMs: number;
  /** PostgreSQL's timeline as last observed; 0 unknown. */
  timeline: number;
  /** WAL position last observed: the primary's current one, what a replica has replayed; "" unknown. */
  position: string;
  /** A replica's replay lag as last observed, ms; undefined for a primary or when unknown. */
  replicaLagMs: number | undefined;
  /** Takes writes although another host was promoted past it: Berth gives it nothing. */
  fenced: boolean;
  /** When the observed role or the fenced flag last changed. */
  roleChangedAt: Date | undefined;
  /** The host the connection's writes go to now. */
  writer: boolean;
}

/** A host of a connection, as the health monitor and the pool manager both name it. */
export const hostKey = (pool: ConnectionPool) => `${pool.connectionId}|${pool.role}|${pool.host}`;

/** A host before its first check: as configured, untested. */
export function freshSnapshot(pool: ConnectionPool, slot: number): HostHealthSnapshot {
  return {
    server: pool.settings.server,
    port: pool.settings.port,
    role: pool.role,
    configuredRole: pool.role,
    slot: slot === 0 ? "server" : `replicas[${slot - 1}]`,
    status: "untested",
    lastCheckedAt: undefined,
    lastErrorReason: "",
    lastLatencyMs: 0,
    timeline: 0,
    position: "",
    replicaLagMs: undefined,
    fenced: false,
    roleChangedAt: undefined,
    writer: false,
  };
}
