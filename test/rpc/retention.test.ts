import { beforeAll, describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/audit/audit-log.js";
import { applyRetention } from "../../src/audit/retention.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { inMemoryBerth } from "../support/in-memory.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

describe("retention (RFC 002 §9.1)", () => {
  let m: Awaited<ReturnType<typeof inMemoryBerth>>;
  const ids: string[] = [];
  beforeAll(async () => {
    m = await inMemoryBerth();
    for (const name of ["kept", "idle-but-tested", "abandoned"]) {
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
      ids.push(connection!.id);
      // Two test results each (a closed port: they fail, and are stored all the same).
      for (let i = 0; i < 2; i++)
        await m.connections
          .testConnection({ target: { case: "id", value: connection!.id } }, m.alice)
          .catch(() => {});
    }
  });

  it("removes old check results (keeping each connection's latest), old audit events, and abandoned connections", async () => {
    const db = m.store.db;
    // Every check but the newest is two months old; "abandoned" was last touched a year ago,
    // "idle-but-tested" was changed long ago but tested last week.
    const checks = await db
      .selectFrom("connection_checks")
      .select(["id", "connection_id"])
      .orderBy("id")
      .execute();
    expect(checks).toHaveLength(6);
    await db
      .updateTable("connection_checks")
      .set({ checked_at: ago(60) })
      .execute();
    await db
      .updateTable("connections")
      .set({ updated_at: ago(365), last_tested_at: ago(365) })
      .where("id", "=", ids[2]!)
      .execute();
    await db
      .updateTable("connections")
      .set({ updated_at: ago(365), last_tested_at: ago(7) })
      .where("id", "=", ids[1]!)
      .execute();
    // The first ten audit events are four months old (they are about to go, so their hashes may stale).
    const first = await db.selectFrom("audit_events").select("seq").orderBy("seq").limit(10).execute();
    await db
      .updateTable("audit_events")
      .set({ at: ago(120) })
      .where("seq", "<=", first.at(-1)!.seq)
      .execute();
    const total = (await db.selectFrom("audit_events").select("seq").execute()).length;

    const audit = createAuditLog(db, { keys: m.keys });
    const report = await applyRetention(db, audit, {
      checksDays: 30,
      auditDays: 90,
      inactiveConnectionDays: 180,
    });
    // One old result per connection (three), then "abandoned" goes with its grants and its latest result.
    expect(report).toEqual({ checks: 3, auditEvents: 10, connections: [ids[2]] });

    // Each remaining connection keeps exactly its newest result.
    const left = await db
      .selectFrom("connection_checks")
      .select(["id", "connection_id"])
      .orderBy("id")
      .execute();
    expect(left.map((c) => c.connection_id)).toEqual([ids[0], ids[1]]);
    expect(left.map((c) => c.id)).toEqual([
      Math.max(...checks.filter((c) => c.connection_id === ids[0]).map((c) => c.id)),
      Math.max(...checks.filter((c) => c.connection_id === ids[1]).map((c) => c.id)),
    ]);
    expect((await db.selectFrom("connections").select("id").execute()).map((c) => c.id).sort()).toEqual(
      [ids[0], ids[1]].sort(),
    );
    // The chain still verifies from its anchor, and the pass is on record.
    const verified = await audit.verify();
    expect(verified).toMatchObject({ ok: true, checked: total - 10 + 1 });
    const events = await audit.list({ limit: 1000 });
    expect(events.at(-1)).toMatchObject({ action: "retention.purge", actor_id: "berth" });
    expect(events.at(-1)!.reason).toContain("removed 3 check results");
  });

  it("still catches an event removed from the head of the pruned chain", async () => {
    const db = m.store.db;
    const head = await db
      .selectFrom("audit_events")
      .select("seq")
      .orderBy("seq")
      .limit(1)
      .executeTakeFirstOrThrow();
    await db.deleteFrom("audit_events").where("seq", "=", head.seq).execute();
    const verified = await createAuditLog(db, { keys: m.keys }).verify();
    expect(verified).toMatchObject({ ok: false, firstBrokenSeq: head.seq + 1 });
  });

  it("keeps a connection whose pool is open, however old its dates", async () => {
    const db = m.store.db;
    await db
      .updateTable("connections")
      .set({ updated_at: ago(365), last_tested_at: null, last_used_at: ago(365) })
      .execute();
    const audit = createAuditLog(db, { keys: m.keys });
    const policy = { checksDays: 0, auditDays: 0, inactiveConnectionDays: 180 };
    const inUse = new Set([ids[0]!]);
    const report = await applyRetention(db, audit, policy, new Date(), (id) => inUse.has(id));
    expect(report.connections).toEqual([ids[1]]);
    expect((await db.selectFrom("connections").select("id").execute()).map((c) => c.id)).toEqual([ids[0]]);
  });

  it("keeps everything when every period is 0", async () => {
    const report = await applyRetention(m.store.db, createAuditLog(m.store.db, { keys: m.keys }), {
      checksDays: 0,
      auditDays: 0,
      inactiveConnectionDays: 0,
    });
    expect(report).toEqual({ checks: 0, auditEvents: 0, connections: [] });
  });
});
