import { describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/audit/audit-log.js";
import { applyRetention, markPoolsInUse } from "../../src/audit/retention.js";
import { loadConfig } from "../../src/config/config.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { inMemoryBerth } from "../support/in-memory.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

describe("inactive-connection retention by default: 6 months (RFC 002 §9.1), with its safeguards", () => {
  it("removes a connection untouched for 7 months; keeps one idle 5 months, one used lately, one with an open pool", async () => {
    const m = await inMemoryBerth();
    const ids: Record<string, string> = {};
    for (const name of ["seven-months", "five-months", "used-lately", "pool-open"]) {
      const { connection } = await m.connections.createConnection(
        {
          spec: {
            name,
            type: Engine.POSTGRESQL,
            server: "127.0.0.1",
            port: 1,
            database: "d",
            username: "u",
            password: "p",
          },
        },
        m.alice,
      );
      ids[name] = connection!.id;
    }
    const db = m.store.db;
    const age = (name: string, changedDaysAgo: number, usedDaysAgo: number | null) =>
      db
        .updateTable("connections")
        .set({
          updated_at: ago(changedDaysAgo),
          last_tested_at: null,
          last_used_at: usedDaysAgo === null ? null : ago(usedDaysAgo),
        })
        .where("id", "=", ids[name]!)
        .execute();
    await age("seven-months", 213, null);
    await age("five-months", 152, null);
    await age("used-lately", 400, 30);
    await age("pool-open", 400, 400);

    // Another instance holds a pool of "pool-open": its daily mark keeps it, as this instance's own check would.
    await markPoolsInUse(db, [ids["pool-open"]!]);
    const policy = loadConfig({}).retention;
    expect(policy.inactiveConnectionDays).toBe(183);
    const report = await applyRetention(db, createAuditLog(db, { keys: m.keys }), policy, new Date());
    expect(report.connections).toEqual([ids["seven-months"]]);
    const left = (await db.selectFrom("connections").select("name").execute()).map((c) => c.name).sort();
    expect(left).toEqual(["five-months", "pool-open", "used-lately"]);
  });
});
