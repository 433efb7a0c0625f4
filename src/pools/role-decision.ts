import type { EventEmitter } from "node:events";
import { ENGINES } from "../engines/index.js";
import { hostKey } from "./host-snapshot.js";
import type { RoleMemories } from "./role-memory.js";
import { elect, type HostRole, writableSince } from "./roles.js";
import type { HealthEvents, Watched } from "./watched-host.js";

// The fencing decision: after every check, the connection's roles are decided again from what each
// host last answered (the election itself is roles.ts, pure); here its outcome is applied to the
// hosts' snapshots and told as events. Apart from health.ts, which only runs the checks.

/** Decides the connection's roles again from its hosts' last answers, and tells what changed. */
export function decideRoles(
  connectionId: string,
  ws: Watched[],
  memories: RoleMemories,
  events: EventEmitter<HealthEvents>,
): void {
  if (!ws.some((w) => w.replication)) return;
  const roles = memories.of(connectionId);
  if (!roles.loaded) return;
  for (const w of ws) {
    if (
      !w.answering ||
      !w.replication ||
      ENGINES[w.pool.settings.type]?.replication?.timelines !== "writable-since"
    )
      continue;
    // By slot, not by address: this memory is stored in clear, and hosts are sealed at rest.
    const timeline = writableSince(roles.memory, w.snapshot.slot, w.replication.standby);
    w.replication = { ...w.replication, timeline };
    w.snapshot = { ...w.snapshot, timeline };
  }
  const views = ws.map((w) => ({
    key: hostKey(w.pool),
    slot: w.slot,
    replication: w.replication,
    answering: w.answering,
    fenced: w.snapshot.fenced,
  }));
  const election = elect(views, roles.memory);
  const incumbent = roles.memory.incumbent;
  roles.memory.maxTimeline = election.maxTimeline;
  roles.writer = election.writer;
  memories.persist(connectionId, roles);
  // The incumbent keeps its claim while silent; once it answers as anything but the writer, it lost it.
  if (election.writer) roles.memory.incumbent = election.writer;
  else if (ws.find((w) => hostKey(w.pool) === incumbent)?.answering) roles.memory.incumbent = undefined;
  for (const w of ws)
    applyElection(events, w, election.writer === hostKey(w.pool), election.fenced.has(hostKey(w.pool)));
  const lost = incumbent !== undefined && incumbent !== roles.memory.incumbent;
  // A connection of one host routes by configuration: there is no other host to move writes to.
  const demoted = lost && ws.length > 1 ? ws.find((w) => hostKey(w.pool) === incumbent) : undefined;
  if (demoted) events.emit("demoted", connectionId, demoted.pool);
}

/** A host's share of an election: its role, writer and fenced flags, and the events they make. */
function applyElection(
  events: EventEmitter<HealthEvents>,
  w: Watched,
  writer: boolean,
  fenced: boolean,
): void {
  const before = w.snapshot;
  const role: HostRole = w.replication ? (w.replication.standby ? "replica" : "primary") : before.role;
  if (before.role === role && before.fenced === fenced && before.writer === writer) return;
  const moved = before.role !== role || before.fenced !== fenced;
  w.snapshot = { ...before, role, fenced, writer, ...(moved ? { roleChangedAt: new Date() } : {}) };
  const id = w.pool.connectionId;
  if (before.role !== role) events.emit("role", id, w.snapshot, before.role);
  if (fenced && !before.fenced) events.emit("fenced", id, w.snapshot);
  events.emit("change", id, w.snapshot);
}
