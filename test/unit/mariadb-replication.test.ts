import { describe, expect, it } from "vitest";
import { gtidPosition, mysqlReplication } from "../../src/engines/mysql/replication.js";
import { readStartupOptions } from "../../src/frontdoor/startup-options.js";
import { settingValue } from "../../src/frontdoor/statement-kind.js";
import { positionOf } from "../../src/pools/consistency.js";
import { type RoleMemory, writableSince } from "../../src/pools/roles.js";

describe("MariaDB GTID positions", () => {
  const { compare } = mysqlReplication;

  it("orders positions domain by domain, by sequence number (not server id)", () => {
    expect(compare("0-1-5", "0-1-5")).toBe(0);
    expect(compare("0-2-6", "0-1-5")).toBe(1);
    expect(compare("0-1-4", "0-1-5")).toBe(-1);
    expect(compare("0-1-9,1-3-2", "1-3-2")).toBe(1);
    // A domain the other has not reached at all: not covered.
    expect(compare("0-1-9", "0-1-5,1-3-1")).toBe(-1);
    expect(compare("0-1-9,1-3-0", "0-1-5,1-3-1")).toBe(-1);
  });

  it("refuses anything that is not a GTID position", () => {
    for (const bad of [
      "",
      "0-1",
      "a-b-c",
      "0/3000148",
      "0-1-5,",
      "0-1-5;DROP",
      "0-1-99999999999999999999999",
    ])
      expect(compare(bad, bad), bad).toBeUndefined();
    expect(gtidPosition("0-1-5, 1-2-3")?.get("1")).toBe(3n);
    expect(() => positionOf("mysql:0/3000148", "mysql")).toThrow(/consistencyToken/);
    expect(() => positionOf("postgresql:0-1-5", "mysql")).toThrow(/consistencyToken/);
    expect(positionOf("mysql:0-1-5", "mysql")).toBe("0-1-5");
  });
});

describe("writable-since numbering (engines without timelines)", () => {
  const memory = (): RoleMemory => ({ maxTimeline: 0, incumbent: undefined, writableSince: new Map() });

  it("numbers each host when first seen writable, keeps it while writable, forgets it when seen read-only", () => {
    const m = memory();
    expect(writableSince(m, "a:1", false)).toBe(1);
    expect(writableSince(m, "b:1", true)).toBe(0);
    expect(writableSince(m, "a:1", false)).toBe(1);
    // b promoted while a is silent: b became writable last.
    expect(writableSince(m, "b:1", false)).toBe(2);
    // a back writable keeps its old number: it is behind.
    expect(writableSince(m, "a:1", false)).toBe(1);
    // a rebuilt as a replica, later promoted again: a new, highest number.
    expect(writableSince(m, "a:1", true)).toBe(0);
    expect(writableSince(m, "a:1", false)).toBe(3);
    expect(m.maxTimeline).toBe(3);
  });

  it("continues after the highest number remembered (from the store)", () => {
    const m = memory();
    m.maxTimeline = 7;
    m.writableSince.set("a:1", 7);
    expect(writableSince(m, "b:1", false)).toBe(8);
    expect(writableSince(m, "a:1", false)).toBe(7);
  });
});

describe("front door: berth.read_after", () => {
  it("reads the value of a remembered SET, whatever its spelling", () => {
    expect(settingValue("SET berth.read_after = 'postgresql:0/3000148'")).toBe("postgresql:0/3000148");
    expect(settingValue(`SET "berth.read_after" TO 'postgresql:0/3000148'`)).toBe("postgresql:0/3000148");
    expect(settingValue("set berth.read_after to postgresql:0/1")).toBe("postgresql:0/1");
    expect(settingValue("SET berth.read_after = 'it''s'")).toBe("it's");
    expect(settingValue("SET berth.read_after TO DEFAULT")).toBeUndefined();
  });

  it("is taken as a startup option, other berth.* options are still refused", () => {
    const ok = readStartupOptions(
      new Map([["options", "-c berth.intent=read -c berth.read_after=postgresql:0/1"]]),
    );
    expect(ok).toMatchObject({ intent: "read" });
    expect(settingValue((ok as { settings: Map<string, string> }).settings.get("berth.read_after")!)).toBe(
      "postgresql:0/1",
    );
    expect(readStartupOptions(new Map([["berth.read_before", "x"]]))).toMatchObject({
      error: expect.stringMatching(/unknown Berth option/),
    });
  });
});
