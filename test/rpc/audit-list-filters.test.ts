import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../src/gen/berth/v1/audit_service_pb.js";
import { inMemoryBerth } from "../support/in-memory.js";

/** The audit page's paging (newest first, then older pages by before_seq) and its outcome filter. */
describe("ListAuditEvents: newest first, before_seq, outcome", () => {
  let m: Awaited<ReturnType<typeof inMemoryBerth>>;
  let audit: ReturnType<typeof createClient<typeof AuditService>>;
  beforeAll(async () => {
    m = await inMemoryBerth();
    audit = createClient(AuditService, m.transport);
    // Some events that end ok, some denied (a member may not list the log).
    for (let i = 0; i < 3; i++) {
      await m.connections.listConnections({}, m.alice);
      await audit.listAuditEvents({}, m.bob).catch(() => {});
    }
  });

  it("pages from the newest back, without overlap or gaps, and oldest-first is unchanged", async () => {
    const all = (await audit.listAuditEvents({ pageSize: 1000 }, m.admin)).events.map((e) => Number(e.seq));
    expect(all.length).toBeGreaterThan(6);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    const first = (await audit.listAuditEvents({ pageSize: 4, newestFirst: true }, m.admin)).events;
    const seqs = first.map((e) => Number(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(seqs[0]).toBeGreaterThanOrEqual(all.at(-1)!);
    const second = (
      await audit.listAuditEvents({ pageSize: 4, newestFirst: true, beforeSeq: first.at(-1)!.seq }, m.admin)
    ).events.map((e) => Number(e.seq));
    expect(second[0]).toBe(seqs.at(-1)! - 1);
    expect(second.every((s) => s < seqs.at(-1)!)).toBe(true);
  });

  it("keeps only the outcome asked for, and refuses one that is no outcome with a field error", async () => {
    const denied = (await audit.listAuditEvents({ outcome: "denied", pageSize: 1000 }, m.admin)).events;
    expect(denied.length).toBeGreaterThanOrEqual(3);
    expect(new Set(denied.map((e) => e.outcome))).toEqual(new Set(["denied"]));
    const err = await audit
      .listAuditEvents({ outcome: "ok' OR 1=1 --" }, m.admin)
      .then(() => undefined, ConnectError.from);
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/outcome/);
  });
});
