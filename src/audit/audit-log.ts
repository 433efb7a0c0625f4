import { PostgresAdapter } from "kysely";
import type { KeyProvider } from "../crypto/key-provider.js";
import { NUL_STAND_IN } from "../store/postgres-text.js";
import type { Db } from "../store/store.js";
import {
  type AuditAnchor,
  type AuditEventRow,
  type AuditHead,
  checkpointData,
  eventHash,
  GENESIS,
  linkData,
  prunedData,
} from "./chain.js";
import { appendCheckpoint, appendPruned, readCheckpoints } from "./checkpoints.js";
import { AuditCutRefused, checkCut } from "./cut-check.js";
import type { AuditExport } from "./export.js";
import { type VerifyReport, verifyChain } from "./verify-chain.js";

export { type AuditAnchor, type AuditEventRow, type AuditHead, eventHash } from "./chain.js";
export { AuditCutRefused } from "./cut-check.js";
export type { VerifyReport } from "./verify-chain.js";

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

export interface CheckpointSettings {
  /** The append-only file of signed checkpoints (outside the store). */
  file: string;
  /** A checkpoint after this many events… */
  everyEvents: number;
  /** …or after this long, when events came since the last one (0 = by count only). */
  intervalMs: number;
}

export interface AuditLogOptions {
  /** Signs each link and checkpoint; without it events are unsigned (hash chain only). */
  keys?: Pick<KeyProvider, "mac" | "verifyMac" | "versionOf" | "owns"> | undefined;
  clock?: () => Date;
  checkpoints?: CheckpointSettings | undefined;
  /** A copy of each event for a log pipeline. */
  export?: AuditExport | undefined;
  /** A checkpoint or export that failed (the event itself is stored). */
  onError?: (err: unknown, what: string) => void;
  /**
   * Whether other instances may share the store (and run retention, writing the cut's line to their
   * own checkpoints file): then Verify accepts a validly signed anchor without a line here. Default:
   * a PostgreSQL store, which is what shared mode is.
   */
  sharedStore?: boolean;
}

/**
 * Append-only and chained: each event carries the hash of the one before and a MAC (under the key
 * provider's audit key, versioned like the data keys) over its seq and hash, so editing, deleting,
 * reordering or re-hashing any event is detected, and Verify names the first. Signed checkpoints in a
 * separate append-only file catch truncation of the newest events. Appends are serialized in this
 * process (the chain has one tail); a failed append rejects, and the caller's call fails with it.
 */
export function createAuditLog(db: Db, options: AuditLogOptions = {}) {
  const clock = options.clock ?? (() => new Date());
  const keys = options.keys;
  const cp = options.checkpoints;
  const onError = options.onError ?? (() => {});
  const sharedStore = options.sharedStore ?? db.getExecutor().adapter instanceof PostgresAdapter;
  let tail: Promise<unknown> = Promise.resolve();
  let sinceCheckpoint = 0;
  let lastCheckpointSeq: number | undefined;
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work);
    tail = run.catch(() => {});
    return run;
  };

  /** The newest link: the last event, else the retention anchor, else the genesis. */
  async function currentHead(): Promise<{ seq: number; hash: string }> {
    const last = await db
      .selectFrom("audit_events")
      .select(["seq", "hash"])
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    if (last) return last;
    const anchor = await db
      .selectFrom("audit_anchor")
      .select(["seq", "hash"])
      .where("id", "=", 1)
      .executeTakeFirst();
    return anchor ?? { seq: 0, hash: GENESIS };
  }

  async function signedHead(): Promise<AuditHead> {
    const { seq, hash } = await currentHead();
    const time = clock().toISOString();
    const mac = keys ? await keys.mac(checkpointData(seq, hash, time)) : "";
    return { seq, head: hash, time, keyVersion: (mac && keys?.versionOf(mac)) || 0, mac };
  }

  /** Writes a checkpoint when events came since the last one (inside the tail: a consistent head). */
  async function checkpointNow(): Promise<void> {
    if (!cp) return;
    lastCheckpointSeq ??= (await readCheckpoints(cp.file)).reduce((m, l) => Math.max(m, l.head?.seq ?? 0), 0);
    const head = await signedHead();
    if (head.seq === lastCheckpointSeq) return;
    await appendCheckpoint(cp.file, head);
    lastCheckpointSeq = head.seq;
    sinceCheckpoint = 0;
  }
  const checkpointQuietly = () => checkpointNow().catch((err) => onError(err, "audit checkpoint"));

  const timer =
    cp && cp.intervalMs > 0
      ? setInterval(() => void serialized(checkpointQuietly), cp.intervalMs)
      : undefined;
  timer?.unref();

  /**
   * Appends after the head as it is now. Instances sharing a store append concurrently: seq is the
   * primary key, so of two appends after the same head one wins and the other reads the new head
   * and links after it — one chain, no fork, no gap, no lock held across the network.
   */
  async function insert(event: AuditEvent): Promise<AuditEventRow> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await insertAfterHead(event);
      } catch (err) {
        if (!isDuplicateKey(err) || attempt >= MAX_APPEND_ATTEMPTS) throw err;
      }
    }
  }

  async function insertAfterHead(event: AuditEvent): Promise<AuditEventRow> {
    const last = await currentHead();
    const seq = last.seq + 1;
    const fields = {
      at: clock().toISOString(),
      actor_id: storable(event.actorId),
      actor_name: storable(event.actorName),
      source: storable(event.source),
      transport: event.transport,
      action: event.action,
      target: storable(event.target),
      outcome: event.outcome,
      reason: storable(event.reason),
      request_id: storable(event.requestId),
    };
    const hash = eventHash(last.hash, fields);
    const mac = keys ? await keys.mac(linkData(seq, hash)) : "";
    const row = {
      seq,
      ...fields,
      prev_hash: last.hash,
      hash,
      mac,
      key_version: (mac && keys?.versionOf(mac)) || 0,
    };
    await db.insertInto("audit_events").values(row).execute();
    return row;
  }

  function append(event: AuditEvent): Promise<void> {
    return serialized(async () => {
      const row = await insert(event);
      try {
        options.export?.write(row);
      } catch (err) {
        onError(err, "audit export");
      }
      if (cp && ++sinceCheckpoint >= cp.everyEvents) await checkpointQuietly();
    });
  }

  /** Removes the events before `before` (ISO time) from the head of the chain; see pruneChain. */
  function prune(before: string): Promise<number> {
    return serialized(() => pruneChain(db, before, clock, keys, cp?.file));
  }

  function verify(): Promise<VerifyReport> {
    return verifyChain(db, keys, { file: cp?.file, sharedStore });
  }

  /** Stops the checkpoint timer, writes a last checkpoint and closes the export. */
  async function close(): Promise<void> {
    if (timer) clearInterval(timer);
    await serialized(checkpointQuietly);
    await options.export?.close();
  }

  return {
    append,
    verify,
    list: (filter: ListFilter) => listEvents(db, filter),
    prune,
    /**
     * The newest seq and hash, signed now, and the retention anchor (GET /api/audit/head, for an
     * outside monitor: a moved anchor is a retention cut, which a pruned line must match).
     */
    head: () => serialized(async () => ({ ...(await signedHead()), anchor: await readAnchor(db) })),
    /** A checkpoint now (tests, shutdown); normally by count and interval. */
    checkpoint: () => serialized(checkpointNow),
    close,
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

/** The retention anchor as published; undefined before any cut. */
async function readAnchor(db: Db): Promise<AuditAnchor | undefined> {
  const a = await db.selectFrom("audit_anchor").selectAll().where("id", "=", 1).executeTakeFirst();
  return a && { seq: a.seq, hash: a.hash, time: a.at, mac: a.mac };
}

/**
 * Text as every store keeps it: PostgreSQL's holds no U+0000 (a sign-in name or a path can carry
 * one), so it is replaced before the event is hashed, not by the store after.
 */
const storable = (s: string) => (s.includes("\0") ? s.replaceAll("\0", NUL_STAND_IN) : s);

/**
 * Removes the events before `before` (ISO time) from the head of the chain. The last removed
 * event's seq and hash become the anchor, and Verify starts from it: a further event removed from
 * the head no longer follows the anchor, and is reported. The cut is signed as a retention cut (not
 * with the event's own MAC, which anyone with the store could copy into the anchor) and appended to
 * the checkpoints file first, outside the store, so that a cut made by hand is told from this one.
 * Before any of that, every event to remove is checked (checkCut): the cut ends before the first
 * event that is not old, whatever later events' dates say (the store alone can back-date them), and
 * a cut over events that are not the chain Berth wrote is refused (AuditCutRefused) with nothing
 * removed; Verify still reports them.
 */
async function pruneChain(
  db: Db,
  before: string,
  clock: () => Date,
  keys: AuditLogOptions["keys"],
  file: string | undefined,
): Promise<number> {
  const cut = await checkedCut(db, before, keys);
  if (!cut) return 0;
  const at = clock().toISOString();
  const mac = keys ? await keys.mac(prunedData(cut.seq, cut.hash, at)) : "";
  if (file)
    await appendPruned(file, {
      seq: cut.seq,
      head: cut.hash,
      time: at,
      keyVersion: (mac && keys?.versionOf(mac)) || 0,
      mac,
    });
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom("audit_events").where("seq", "<=", cut.seq).executeTakeFirst();
    const anchor = { seq: cut.seq, hash: cut.hash, mac, at };
    // Only forward: a slower pass that read an older cut must not move the anchor back.
    await trx
      .insertInto("audit_anchor")
      .values({ id: 1, ...anchor })
      .onConflict((oc) => oc.column("id").doUpdateSet(anchor).where("audit_anchor.seq", "<", cut.seq))
      .execute();
    return Number(r.numDeletedRows);
  });
}

/** The cut for `before` (the newest event dated before it), checked; undefined when none is due. */
async function checkedCut(
  db: Db,
  before: string,
  keys: AuditLogOptions["keys"],
): Promise<{ seq: number; hash: string } | undefined> {
  for (let attempt = 1; ; attempt++) {
    const anchorSeq = await anchorSeqOf(db);
    // Appends come after the head and prunes run inside the log's tail: this event stays the cut.
    const last = await db
      .selectFrom("audit_events")
      .select("seq")
      .where("at", "<", before)
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!last) return undefined;
    try {
      return await checkCut(db, last.seq, before, keys);
    } catch (err) {
      if (!(err instanceof AuditCutRefused) || attempt >= 3) throw err;
      // Another instance's pass moved the anchor while this one walked (its rows went): walk again.
      if ((await anchorSeqOf(db)) === anchorSeq) throw err;
    }
  }
}

const anchorSeqOf = async (db: Db) =>
  (await db.selectFrom("audit_anchor").select("seq").where("id", "=", 1).executeTakeFirst())?.seq ?? 0;

export interface ListFilter {
  target?: string | undefined;
  actorId?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit: number;
  afterSeq?: number | undefined;
  beforeSeq?: number | undefined;
  outcome?: string | undefined;
  /** Descending seq: the newest page first. */
  newestFirst?: boolean | undefined;
}

function listEvents(db: Db, filter: ListFilter): Promise<AuditEventRow[]> {
  let q = db.selectFrom("audit_events").selectAll();
  if (filter.target) q = q.where("target", "=", filter.target);
  if (filter.actorId) q = q.where("actor_id", "=", filter.actorId);
  if (filter.since) q = q.where("at", ">=", filter.since);
  if (filter.until) q = q.where("at", "<", filter.until);
  if (filter.afterSeq) q = q.where("seq", ">", filter.afterSeq);
  if (filter.beforeSeq) q = q.where("seq", "<", filter.beforeSeq);
  if (filter.outcome) q = q.where("outcome", "=", filter.outcome);
  return q
    .orderBy("seq", filter.newestFirst ? "desc" : "asc")
    .limit(filter.limit)
    .execute();
}

/** Appends that lost the race for the next seq this many times in a row give up (and are reported). */
const MAX_APPEND_ATTEMPTS = 50;

/** A unique-key violation: SQLite's constraint error, or PostgreSQL's SQLSTATE 23505. */
function isDuplicateKey(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? "");
  return code === "23505" || code.startsWith("SQLITE_CONSTRAINT");
}
