import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { AuditCutRefused, type AuditLog, createAuditLog } from "../../src/audit/audit-log.js";
import { eventHash, prunedData } from "../../src/audit/chain.js";
import { applyRetention } from "../../src/audit/retention.js";
import { type LocalKeyring, openKeyringFile } from "../../src/crypto/local-keyring.js";
import type { Store } from "../../src/store/store.js";
import { sampleAuditEvent } from "../support/audit-events.js";
import { dropTestStore, openTestStore, withRawStore } from "../support/test-store.js";

/**
 * A retention cut is provable outside the store. Someone with write access to the store (not
 * Berth's keys, not its data directory) who deletes old events and writes a later event's seq,
 * hash and MAC into audit_anchor must not pass for retention: the anchor is signed as a retention
 * cut, and the cut is also a signed "pruned" line in the checkpoints file, which Verify matches.
 */
let dir: string;
let store: Store;
let keys: LocalKeyring;
let checkpointFile: string;
const logs: AuditLog[] = [];

const OLD = "2000-01-01T00:00:00.000Z";
const DAY = 86_400_000;
const POLICY = { checksDays: 0, auditDays: 30, inactiveConnectionDays: 0 };
/** Event i is appended on day i (January 2026), by the logs' clock: events age honestly. */
const dayOf = (i: number) => new Date(Date.UTC(2026, 0, i));
let now: Date;
/** The time of a retention pass whose cut falls just after event `seq` (an hour past its day). */
const cutAfter = (seq: number) => new Date(dayOf(seq).getTime() + POLICY.auditDays * DAY + 3_600_000);

const event = sampleAuditEvent;

/** Raw SQL on the store, as someone with write access to it (not through Berth). */
function sql(statement: string, ...params: unknown[]): Promise<number> {
  return withRawStore(dir, (raw) => raw.run(statement, ...params));
}

/** An audit log on the test store; `sharedStore` says whether other instances may share it. */
function openLog(sharedStore: boolean, file = checkpointFile): AuditLog {
  const log = createAuditLog(store.db, {
    keys,
    clock: () => now,
    sharedStore,
    checkpoints: { file, everyEvents: 4, intervalMs: 0 },
  });
  logs.push(log);
  return log;
}

/** A real retention pass, at the time when events up to `seq` are past retention. */
function retainThrough(log: AuditLog, seq: number) {
  now = cutAfter(seq);
  return applyRetention(store.db, log, POLICY, now);
}

/** A real retention pass that removes events 1..5: the anchor is seq 5. */
async function retainFirstFive(log: AuditLog): Promise<void> {
  expect((await retainThrough(log, 5)).auditEvents).toBe(5);
}

/** What an insider does: deletes events up to `seq` and copies that event into the anchor. */
async function forgeAnchorFrom(seq: number): Promise<void> {
  const row = await withRawStore(dir, (raw) =>
    raw.get<{ hash: string; mac: string }>("select hash, mac from audit_events where seq = ?", seq),
  );
  await sql("delete from audit_events where seq <= ?", seq);
  await sql("delete from audit_anchor");
  await sql(
    "insert into audit_anchor (id, seq, hash, at, mac) values (1, ?, ?, ?, ?)",
    seq,
    row!.hash,
    OLD,
    row!.mac,
  );
}

const prunedLines = async (file = checkpointFile) =>
  (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === "pruned");

beforeEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
  await store?.close();
  if (dir) {
    await rm(dir, { recursive: true, force: true });
    await dropTestStore(dir);
  }
  dir = await mkdtemp(join(tmpdir(), "berth-anchor-"));
  store = await openTestStore(dir);
  keys = await openKeyringFile(dir);
  checkpointFile = join(dir, "audit-checkpoints.jsonl");
  const log = openLog(false);
  for (let i = 1; i <= 10; i++) {
    now = dayOf(i);
    await log.append(event(i));
  }
});
afterAll(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
  await store?.close();
  await rm(dir, { recursive: true, force: true });
  await dropTestStore(dir);
});

describe("a retention cut, proven outside the store", () => {
  it("a real retention pass writes a signed pruned line and the anchor verifies from it", async () => {
    const log = logs[0]!;
    await retainFirstFive(log);
    const [line] = await prunedLines();
    const anchor = await store.db.selectFrom("audit_anchor").selectAll().executeTakeFirstOrThrow();
    expect(line).toMatchObject({ type: "pruned", seq: 5, head: anchor.hash, time: anchor.at, keyVersion: 1 });
    expect(anchor.mac).toBe(line.mac);
    expect(await keys.verifyMac(prunedData(5, anchor.hash, anchor.at), anchor.mac)).toBe(true);
    const r = await log.verify();
    expect(r).toMatchObject({ ok: true, anchor: { seq: 5, hash: anchor.hash, proof: "checkpoint" } });
    // The retention.purge event follows the anchor.
    expect(r.checked).toBe(6);
  });

  it("reports history deleted by hand with a later event copied into the anchor", async () => {
    const log = logs[0]!;
    await retainFirstFive(log);
    await forgeAnchorFrom(8);
    const r = await log.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 8 });
    expect(r.problem).toMatch(
      /retention anchor \(seq 8\) is not proven by a checkpoint: it is signed as an event/,
    );
    // Also without any retention before it, and also where the store is shared.
    expect(await openLog(true).verify()).toMatchObject({ ok: false, firstBrokenSeq: 8 });
  });

  it("reports a forged anchor whose MAC was stripped", async () => {
    const log = logs[0]!;
    await forgeAnchorFrom(7);
    await sql("update audit_anchor set mac = ''");
    const r = await log.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 7 });
    expect(r.problem).toMatch(/seq 7\) is not proven by a checkpoint: it is not signed/);
  });

  it("reports a pruned line in the file whose MAC does not verify", async () => {
    const log = logs[0]!;
    await retainFirstFive(log);
    const [line] = await prunedLines();
    // A forged cut at seq 8 (the MAC of the real one does not cover it), then one more checkpoint.
    const hash8 = (
      await store.db.selectFrom("audit_events").select("hash").where("seq", "=", 8).executeTakeFirstOrThrow()
    ).hash;
    await appendFile(checkpointFile, `${JSON.stringify({ ...line, seq: 8, head: hash8 })}\n`);
    const r = await log.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 8 });
    expect(r.problem).toMatch(/retention cut line \d+ \(seq 8\) does not carry a valid MAC/);
  });

  it("reports an anchor with no pruned line at all (an anchor from before signed cuts), until a real pass", async () => {
    const log = logs[0]!;
    // What retention did before: the last removed event's own seq, hash and MAC became the anchor, and
    // nothing was written to the checkpoints file.
    await forgeAnchorFrom(5);
    let r = await log.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 5 });
    expect(r.problem).toMatch(
      /predates signed retention cuts \(an upgrade: the next retention pass that removes events replaces it\)/,
    );
    expect(r.problem).toMatch(/compare the events up to seq 5 with a backup/);
    // The next pass that removes events leaves a signed anchor, proven by its line.
    expect((await retainThrough(log, 7)).auditEvents).toBe(2);
    r = await log.verify();
    expect(r).toMatchObject({ ok: true, anchor: { seq: 7, proof: "checkpoint" } });
  });

  it("reports a signed anchor whose pruned line is missing from this instance's file", async () => {
    const log = logs[0]!;
    await retainFirstFive(log);
    const kept = (await readFile(checkpointFile, "utf8"))
      .split("\n")
      .filter((l) => !l.includes('"pruned"'))
      .join("\n");
    await writeFile(checkpointFile, kept);
    const r = await log.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenSeq: 5 });
    expect(r.problem).toMatch(/no signed retention-cut line in .*audit-checkpoints\.jsonl matches it/);
  });

  it("in shared mode accepts a cut another instance made on its signature, and still checks this file", async () => {
    // Instance A runs the pass (the line goes to its file); instance B has its own file.
    const a = logs[0]!;
    const bFile = join(dir, "b-checkpoints.jsonl");
    const b = openLog(true, bFile);
    await b.checkpoint();
    await retainFirstFive(a);
    await b.append(event(11));
    await b.checkpoint();
    expect(await b.verify()).toMatchObject({ ok: true, anchor: { seq: 5, proof: "signature" } });
    expect(await a.verify()).toMatchObject({ ok: true, anchor: { seq: 5, proof: "checkpoint" } });
    // A forged cut line in B's file is still reported on B.
    const [line] = await prunedLines();
    await appendFile(bFile, `${JSON.stringify({ ...line, head: "f".repeat(64) })}\n`);
    expect(await b.verify()).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not carry a valid MAC/),
    });
  });
});

describe("a retention cut over events whose dates were edited in the store", () => {
  /** Every event with its seq, as the store holds them now. */
  const seqs = async () =>
    (await store.db.selectFrom("audit_events").select("seq").orderBy("seq").execute()).map((e) => e.seq);

  /** A pass now (an hour after the last event): nothing is past retention, unless a date lies. */
  const passNow = (log: AuditLog) => {
    now = new Date(dayOf(10).getTime() + 3_600_000);
    return applyRetention(store.db, log, POLICY, now);
  };
  async function refusedPass(log: AuditLog): Promise<AuditCutRefused> {
    const err = await passNow(log).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditCutRefused);
    return err as AuditCutRefused;
  }

  it("removes nothing when a recent event was back-dated (the cut stops at the first recent one), and Verify reports it", async () => {
    const log = logs[0]!;
    // The insider back-dates the newest event: a cut chosen by that date alone would take all ten.
    await sql("update audit_events set at = ? where seq = 10", OLD);
    expect((await passNow(log)).auditEvents).toBe(0);
    // Nothing removed (no purge event either), no cut signed, no anchor; the edited event is
    // still there for Verify.
    expect(await seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await prunedLines()).toEqual([]);
    expect(await store.db.selectFrom("audit_anchor").selectAll().execute()).toEqual([]);
    expect(await log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 10 });
  });

  it("refuses a cut over an event back-dated and re-hashed: its MAC no longer matches", async () => {
    const log = logs[0]!;
    const row = await store.db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", "=", 1)
      .executeTakeFirstOrThrow();
    const { seq: _s, prev_hash, hash: _h, mac: _m, key_version: _k, ...fields } = row;
    await sql(
      "update audit_events set at = ?, hash = ? where seq = 1",
      OLD,
      eventHash(prev_hash, { ...fields, at: OLD }),
    );
    const err = await refusedPass(log);
    expect(err).toMatchObject({ seq: 1, problem: expect.stringMatching(/its MAC does not match/) });
    expect((await seqs()).length).toBe(11);
    expect(await prunedLines()).toEqual([]);
    const [purge] = await log.list({ limit: 1, newestFirst: true });
    expect(purge).toMatchObject({ action: "retention.purge", outcome: "failed" });
    expect(purge!.reason).toMatch(/refused to remove audit events up to seq 1/);
    expect(await log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1 });
  });

  it("without keys (hashes anyone can recompute), a back-dated recent event still removes nothing", async () => {
    await sql("delete from audit_events");
    const file = join(dir, "unkeyed-checkpoints.jsonl");
    const log = createAuditLog(store.db, {
      clock: () => now,
      checkpoints: { file, everyEvents: 4, intervalMs: 0 },
    });
    logs.push(log);
    for (let i = 1; i <= 10; i++) {
      now = dayOf(i);
      await log.append(event(i));
    }
    const row = await store.db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", "=", 10)
      .executeTakeFirstOrThrow();
    const { seq: _s, prev_hash, hash: _h, mac: _m, key_version: _k, ...fields } = row;
    await sql(
      "update audit_events set at = ?, hash = ? where seq = 10",
      OLD,
      eventHash(prev_hash, { ...fields, at: OLD }),
    );
    expect((await passNow(log)).auditEvents).toBe(0);
    expect((await seqs()).length).toBe(10);
    expect(await prunedLines(file)).toEqual([]);
  });

  it("still cuts when the dates are honest, the cut's events all checked", async () => {
    const log = logs[0]!;
    expect((await retainThrough(log, 9)).auditEvents).toBe(9);
    expect(await log.verify()).toMatchObject({ ok: true, anchor: { seq: 9, proof: "checkpoint" } });
  });
});
