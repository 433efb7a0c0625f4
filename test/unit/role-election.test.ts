import { describe, expect, it } from "vitest";
import type { ReplicationState } from "../../src/drivers/replication.js";
import { elect, type HostView, type RoleMemory } from "../../src/pools/roles.js";

const primaryOn = (timeline: number): ReplicationState => ({
  standby: false,
  timeline,
  position: "0/1",
  lagMs: 0,
});
const standby: ReplicationState = { standby: true, timeline: 1, position: "0/1", lagMs: 0 };

function host(
  key: string,
  slot: number,
  replication: ReplicationState | undefined,
  extra: Partial<HostView> = {},
): HostView {
  return { key, slot, replication, answering: true, fenced: false, ...extra };
}

const fresh = (): Pick<RoleMemory, "maxTimeline" | "incumbent"> => ({ maxTimeline: 0, incumbent: undefined });

/** Who takes writes, decided from what each host answered (src/pools/roles.ts). */
describe("role election", () => {
  it("picks the one host that answers as a primary, whatever its slot", () => {
    const e = elect([host("a", 0, standby), host("b", 1, primaryOn(2)), host("c", 2, standby)], fresh());
    expect(e).toMatchObject({ writer: "b", maxTimeline: 2 });
    expect([...e.fenced]).toEqual([]);
  });

  it("has no writer while the primary is silent, and keeps it as incumbent for when it answers", () => {
    const memory = { maxTimeline: 1, incumbent: "a" };
    const e = elect([host("a", 0, primaryOn(1), { answering: false }), host("b", 1, standby)], memory);
    expect(e.writer).toBeUndefined();
    expect(e.fenced.size).toBe(0);
  });

  it("gives writes to the higher timeline and fences the other, with or without memory", () => {
    const hosts = [host("old", 0, primaryOn(1)), host("new", 1, primaryOn(2))];
    for (const memory of [fresh(), { maxTimeline: 1, incumbent: "old" }]) {
      const e = elect(hosts, memory);
      expect(e.writer).toBe("new");
      expect([...e.fenced]).toEqual(["old"]);
    }
  });

  it("never hands writes back to a host left behind on an older timeline, even alone", () => {
    const e = elect([host("old", 0, primaryOn(1)), host("new", 1, primaryOn(2), { answering: false })], {
      maxTimeline: 2,
      incumbent: "new",
    });
    expect(e.writer).toBeUndefined();
    expect([...e.fenced]).toEqual(["old"]);
  });

  it("keeps the incumbent on a tie, and fences the newcomer", () => {
    const e = elect([host("a", 0, primaryOn(3)), host("b", 1, primaryOn(3))], {
      maxTimeline: 3,
      incumbent: "b",
    });
    expect(e.writer).toBe("b");
    expect([...e.fenced]).toEqual(["a"]);
  });

  it("keeps a silent host fenced, and clears the flag once it follows the primary", () => {
    const memory = { maxTimeline: 2, incumbent: "new" };
    const silent = elect(
      [host("old", 0, primaryOn(1), { answering: false, fenced: true }), host("new", 1, primaryOn(2))],
      memory,
    );
    expect([...silent.fenced]).toEqual(["old"]);
    const rebuilt = elect([host("old", 0, standby, { fenced: true }), host("new", 1, primaryOn(2))], memory);
    expect(rebuilt.fenced.size).toBe(0);
  });

  it("observes nothing for an engine that does not answer: no writer, nobody fenced", () => {
    const e = elect([host("a", 0, undefined), host("b", 1, undefined)], fresh());
    expect(e).toMatchObject({ writer: undefined, maxTimeline: 0 });
  });
});
