import type { ReplicationState } from "../drivers/replication.js";
import { UnavailableError } from "../errors/berth-error.js";

/** A host's role as observed by its last check, or as configured until a check has said. */
export type HostRole = "primary" | "replica";

/** What the election reads of one host of a connection. */
export interface HostView {
  readonly key: string;
  /** Order in the connection's configuration: 0 is its `server`, then `replicas` in order. */
  readonly slot: number;
  /** The last answer of a check that succeeded; undefined before one (or for an engine not observed). */
  readonly replication: ReplicationState | undefined;
  /** Whether the host answered its last check: a silent host claims nothing. */
  readonly answering: boolean;
  /** Fenced by an earlier election. */
  readonly fenced: boolean;
}

/** What an election remembers about a connection between checks. */
export interface RoleMemory {
  /**
   * The highest timeline Berth has seen a primary of this connection on. It never goes down: a
   * host that still takes writes on an older timeline was left behind by a promotion, whatever
   * else is up at the moment, and gets no writes again (no write is acknowledged by a host after
   * Berth has seen another promoted past it).
   */
  maxTimeline: number;
  /** The host writes went to last, kept while it is silent: it wins a tie on timeline. */
  incumbent: string | undefined;
  /**
   * Engines without timelines (MariaDB): the number Berth gave each host (by its slot: "server",
   * "replicas[0]"..., since hosts are sealed in the store and this is not) when it
   * first saw it writable, one more than any before, so that the one that became writable last is
   * on the highest "timeline". A host keeps its number while silent or writable; it loses it only
   * when seen read-only (rebuilt as a replica), and gets a new one when next seen writable.
   */
  writableSince: Map<string, number>;
}

/** What of a connection's role memory outlives Berth (the store keeps it: see HealthMonitorOptions). */
export interface DurableRoleMemory {
  maxTimeline: number;
  writableSince: Record<string, number>;
}

/**
 * Engines whose servers have no timeline: numbers a writable host by when Berth first saw it so,
 * forgets the number of a host seen read-only. Answers the host's "timeline".
 */
export function writableSince(memory: RoleMemory, host: string, standby: boolean): number {
  if (standby) {
    memory.writableSince.delete(host);
    return 0;
  }
  let since = memory.writableSince.get(host);
  if (since === undefined) {
    since = memory.maxTimeline + 1;
    memory.writableSince.set(host, since);
    memory.maxTimeline = since;
  }
  return since;
}

export interface Election {
  /** The one host writes go to now; undefined: none (no host answers as an eligible primary). */
  readonly writer: string | undefined;
  /** Hosts that take writes but must not be given any. */
  readonly fenced: ReadonlySet<string>;
  readonly maxTimeline: number;
}

/**
 * Who takes writes. Of the hosts answering as primaries, those on the highest timeline seen are
 * eligible; the incumbent keeps the role among them, else the first in configuration order. Every
 * other host answering as a primary is fenced, and stays fenced while silent, until it answers as
 * a replica (rebuilt and following) or wins an election.
 */
export function elect(
  hosts: readonly HostView[],
  memory: Pick<RoleMemory, "maxTimeline" | "incumbent">,
): Election {
  const claimants = hosts.filter((h) => h.answering && h.replication && !h.replication.standby);
  const timelineOf = (h: HostView) => h.replication?.timeline ?? 0;
  const maxTimeline = Math.max(memory.maxTimeline, ...claimants.map(timelineOf));
  const eligible = claimants.filter((h) => timelineOf(h) >= maxTimeline).sort((a, b) => a.slot - b.slot);
  const writer = eligible.find((h) => h.key === memory.incumbent) ?? eligible[0];
  const fenced = new Set<string>();
  for (const h of hosts) {
    if (h === writer) continue;
    const following = h.answering && h.replication?.standby === true;
    if (claimants.includes(h) || (h.fenced && !following)) fenced.add(h.key);
  }
  return { writer: writer?.key, fenced, maxTimeline };
}

/**
 * A statement that completed on a host after it lost the primary role (another host was promoted
 * past it): not acknowledged as done — what it wrote there is not the connection's data.
 */
export function unacknowledged(): UnavailableError {
  return new UnavailableError(
    "The primary moved to another host while this statement ran on the old one: its outcome is not acknowledged. Check and run it again",
    { reason: "primary_changed" },
  );
}
