import { beforeAll, describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/audit/audit-log.js";
import { applyRetention } from "../../src/audit/retention.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { inMemoryBerth } from "../support/in-memory.js";

const DAY = 86_400_000;
const ago = (days: number, from = Date.now()) => new Date(from - days * DAY).toISOString();

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
    // The pass runs 90 days and a millisecond after the tenth audit event: it and those before it are
    // past retention (dated honestly: a date edited in the store makes retention refuse the cut).
    const tenth = await db
      .selectFrom("audit_events")
      .select("at")
      .orderBy("seq")
      .offset(9)
      .limit(1)
      .executeTakeFirstOrThrow();
    const now = Date.parse(tenth.at) + 90 * DAY + 1;
    const due = (await db.selectFrom("audit_events").select("seq").where("at", "<=", tenth.at).execute())
      .length;
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
      .set({ checked_at: ago(60, now) })
      .execute();
    await db
      .updateTable("connections")
      .set({ updated_at: ago(365, now), last_tested_at: ago(365, now) })
      .where("id", "=", ids[2]!)
      .execute();
    await db
      .updateTable("connections")
      .set({ updated_at: ago(365, now), last_tested_at: ago(7, now) })
      .where("id", "=", ids[1]!)
      .execute();
    const total = (await db.selectFrom("audit_events").select("seq").execute()).length;

    const audit = createAuditLog(db, { keys: m.keys });
    const report = await applyRetention(
      db,
      audit,
      { checksDays: 30, auditDays: 90, inactiveConnectionDays: 180 },
      new Date(now),
    );
    // One old result per connection (three), then "abandoned" goes with its grants and its latest result.
    expect(due).toBeGreaterThanOrEqual(10);
    expect(report).toEqual({ checks: 3, auditEvents: due, connections: [ids[2]] });

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
    expect(verified).toMatchObject({ ok: true, checked: total - due + 1 });
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
