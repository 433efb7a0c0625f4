import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  type FrontDoorClientView,
  frontDoorClientsMessage,
  LISTED_FRONT_DOOR_CLIENTS,
} from "../../src/services/front-door-clients.js";

function client(i: number, state: FrontDoorClientView["state"], pinned?: string): FrontDoorClientView {
  return {
    username: `u${i}`,
    principalKind: i % 2 ? "service" : "user",
    source: `10.0.0.${i % 250}`,
    state,
    pinned,
    openedAt: 1_700_000_000_000 + i * 1000,
    transactions: i,
  };
}

describe("a connection's front-door clients in its status", () => {
  it("counts every client but lists at most 100: those holding a backend, then waiting, then idle, oldest first", () => {
    // 150 idle clients first (the oldest), then waiting and active ones, some pinned.
    const all = [
      ...Array.from({ length: 150 }, (_, i) => client(i, "idle")),
      client(200, "waiting"),
      client(201, "active", "session pooling"),
      client(202, "active"),
      client(203, "idle", "LISTEN"),
    ];
    const m = frontDoorClientsMessage(all);
    expect({ idle: m.idle, waiting: m.waiting, active: m.active, pinned: m.pinned }).toEqual({
      idle: 151,
      waiting: 1,
      active: 2,
      pinned: 2,
    });
    expect(m.clients).toHaveLength(LISTED_FRONT_DOOR_CLIENTS);
    expect(m.clients.slice(0, 4).map((c) => c.username)).toEqual(["u201", "u202", "u200", "u0"]);
    expect(m.clients[0]).toMatchObject({
      principalKind: "service",
      source: "10.0.0.201",
      state: "active",
      pinnedWhy: "session pooling",
      transactions: 201n,
    });
    expect(timestampMs(m.clients[0]!.connectedAt!)).toBe(1_700_000_201_000);
    expect(m.clients[1]!.pinnedWhy).toBe("");
    // The newest idle clients are the ones left out.
    expect(m.clients.at(-1)!.username).toBe("u96");
  });

  it("an empty door: zero counts, no list", () => {
    const m = frontDoorClientsMessage([]);
    expect([m.idle, m.waiting, m.active, m.pinned, m.clients.length]).toEqual([0, 0, 0, 0, 0]);
  });
});
