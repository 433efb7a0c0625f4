import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type FrontDoorClients, FrontDoorClientsSchema } from "../gen/berth/v1/connection_service_pb.js";

/**
 * One client of the PostgreSQL front door, as a connection's status shows it. The front door sits
 * above the services (it is started after them, by the server), so it reports its clients in this
 * shape rather than the services reaching into it.
 */
export interface FrontDoorClientView {
  readonly username: string;
  readonly principalKind: "user" | "service";
  readonly source: string;
  readonly state: "idle" | "waiting" | "active";
  /** Why the client keeps its backend between transactions; undefined when it does not. */
  readonly pinned: string | undefined;
  /** When the client signed in, in milliseconds since the epoch. */
  readonly openedAt: number;
  readonly transactions: number;
}

/** The front door's open clients of one connection. */
export type FrontDoorClientsView = Iterable<FrontDoorClientView>;

/**
 * Where the connection service reads a connection's front-door clients from: undefined while no
 * front door runs on this instance.
 */
export type FrontDoorClientsSource = (connectionId: string) => FrontDoorClientsView | undefined;

/** A status lists at most this many clients; the counts cover them all. */
export const LISTED_FRONT_DOOR_CLIENTS = 100;

const STATE_ORDER = { active: 0, waiting: 1, idle: 2 } as const;

/** Counts by state, and the clients most worth seeing: those holding or awaiting a backend, oldest first. */
export function frontDoorClientsMessage(view: FrontDoorClientsView, listed = true): FrontDoorClients {
  const counts = { idle: 0, waiting: 0, active: 0, pinned: 0 };
  const all: FrontDoorClientView[] = [];
  for (const c of view) {
    counts[c.state]++;
    if (c.pinned) counts.pinned++;
    all.push(c);
  }
  all.sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.openedAt - b.openedAt);
  return create(FrontDoorClientsSchema, {
    ...counts,
    clients: all.slice(0, listed ? LISTED_FRONT_DOOR_CLIENTS : 0).map((c) => ({
      username: c.username,
      principalKind: c.principalKind,
      source: c.source,
      state: c.state,
      pinnedWhy: c.pinned ?? "",
      connectedAt: timestampFromMs(c.openedAt),
      transactions: BigInt(c.transactions),
    })),
  });
}
