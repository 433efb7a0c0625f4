import { createHash } from "node:crypto";
import type { Selectable } from "kysely";
import type { AuditEventsTable } from "../store/schema.js";
import type { Db } from "../store/store.js";

export type AuditEventRow = Selectable<AuditEventsTable>;

/** One security-relevant event. Never a secret: who, from where, did what to what, and how it ended. */
export interface AuditEvent {
  actorId: string;
  actorName: string;
  source: string;
  transport: string;
  action: string;
  target: string;
  /** "ok", "denied", "failed" or "cancelled" (the client gave up on the call). */
  outcome: string;
  reason: string;
  requestId: string;
}

const GENESIS = "0".repeat(64);

/** The hash of an event: SHA-256 over the previous hash and every field, in a fixed order. */
export function eventHash(prevHash: string, row: Omit<AuditEventRow, "seq" | "prev_hash" | "hash">): string {
  const fields = [
    prevHash,
    row.at,
    row.actor_id,
    row.actor_name,
    row.source,
    row.transport,
    row.action,
    row.target,
    row.outcome,
    row.reason,
    row.request_id,
  ];
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  /** Sequence number of the first event whose link is broken (edited, removed or reordered). */
  firstBrokenSeq?: number;
  problem?: string;
}

/**
 * Append-only, hash-chained: each event carries the hash of the one before, so editing, deleting or
 * reordering any event breaks every link after it, and Verify names the first. Appends are
 * serialized in this process (the chain has one tail).
 */
export function createAuditLog(db: Db, clock: () => Date = () => new Date()) {
  let tail: Promise<unknown> = Promise.resolve();

  async function append(event: AuditEvent): Promise<void> {
    const write = tail.then(async () => {
      await db.transaction().execute(async (trx) => {
        const last = await trx
          .selectFrom("audit_events")
          .select("hash")
          .orderBy("seq", "desc")
          .limit(1)
          .executeTakeFirst();
        const prev = last?.hash ?? GENESIS;
        const row = {
          at: clock().toISOString(),
          actor_id: event.actorId,
          actor_name: event.actorName,
          source: event.source,
          transport: event.transport,
          action: event.action,
          target: event.target,
          outcome: event.outcome,
          reason: event.reason,
          request_id: event.requestId,
        };
        await trx
          .insertInto("audit_events")
          .values({ ...row, prev_hash: prev, hash: eventHash(prev, row) })
          .execute();
      });
    });
    tail = write.catch(() => {});
    return write;
  }

  /**
   * Removes the events before `before` (ISO time) from the head of the chain. The last removed
   * event's seq and hash become the anchor, in the same transaction, and Verify starts from it: a
   * further event removed from the head no longer follows the anchor, and is reported.
   */
  async function prune(before: string): Promise<number> {
    const run = tail.then(() =>
      db.transaction().execute(async (trx) => {
        const last = await trx
          .selectFrom("audit_events")
          .select(["seq", "hash"])
          .where("at", "<", before)
          .orderBy("seq", "desc")
          .limit(1)
          .executeTakeFirst();
        if (!last) return 0;
        const r = await trx.deleteFrom("audit_events").where("seq", "<=", last.seq).executeTakeFirst();
        await trx
          .insertInto("audit_anchor")
          .values({ id: 1, seq: last.seq, hash: last.hash, at: clock().toISOString() })
          .onConflict((oc) =>
            oc.column("id").doUpdateSet({ seq: last.seq, hash: last.hash, at: clock().toISOString() }),
          )
          .execute();
        return Number(r.numDeletedRows);
      }),
    );
    tail = run.catch(() => {});
    return run;
  }

  async function verify(): Promise<VerifyReport> {
    const anchor = await db
      .selectFrom("audit_anchor")
      .select(["seq", "hash"])
      .where("id", "=", 1)
      .executeTakeFirst();
    let prev = anchor?.hash ?? GENESIS;
    let checked = 0;
    let lastSeq = anchor?.seq ?? 0;
    // In pages, so a long log does not have to fit in memory.
    for (;;) {
      const page = await db
        .selectFrom("audit_events")
        .selectAll()
        .where("seq", ">", lastSeq)
        .orderBy("seq")
        .limit(1000)
        .execute();
      if (page.length === 0) return { ok: true, checked };
      for (const row of page) {
        if (row.prev_hash !== prev) {
          return {
            ok: false,
            checked,
            firstBrokenSeq: row.seq,
            problem: "does not follow the event before it (one was removed or reordered)",
          };
        }
        const { seq: _s, prev_hash: _p, hash: _h, ...fields } = row;
        if (eventHash(prev, fields) !== row.hash) {
          return {
            ok: false,
            checked,
            firstBrokenSeq: row.seq,
            problem: "its content does not match its hash (it was edited)",
          };
        }
        prev = row.hash;
        checked++;
        lastSeq = row.seq;
      }
    }
  }

  async function list(filter: {
    target?: string | undefined;
    actorId?: string | undefined;
    since?: string | undefined;
    until?: string | undefined;
    limit: number;
    afterSeq?: number | undefined;
  }): Promise<AuditEventRow[]> {
    let q = db.selectFrom("audit_events").selectAll();
    if (filter.target) q = q.where("target", "=", filter.target);
    if (filter.actorId) q = q.where("actor_id", "=", filter.actorId);
    if (filter.since) q = q.where("at", ">=", filter.since);
    if (filter.until) q = q.where("at", "<", filter.until);
    if (filter.afterSeq) q = q.where("seq", ">", filter.afterSeq);
    return q.orderBy("seq").limit(filter.limit).execute();
  }

  return { append, verify, list, prune };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
