import type { Db } from "../store/store.js";
import { GENESIS } from "./chain.js";
import { checkRow, type Verifier } from "./verify-chain.js";

/** A retention cut refused: the rows it would remove are not the chain Berth wrote, or not old. */
export class AuditCutRefused extends Error {
  constructor(
    /** The first event that failed. */
    readonly seq: number,
    readonly problem: string,
  ) {
    super(`retention refused to remove audit events up to seq ${seq}: event ${seq} ${problem}`);
    this.name = "AuditCutRefused";
  }
}

const PAGE = 1000;

/**
 * Checks every event a retention cut would remove, from the current anchor up to `cutSeq`, as
 * Verify does (link, hash — which covers `at` —, MAC), and that each is older than `before`. The
 * cut is chosen by `at`, which anyone with write access to the store can back-date: without this
 * walk, one back-dated recent event would have Berth delete everything before it and sign the cut.
 * Returns the hash of the event at `cutSeq` as read and checked here (what the cut signs); throws
 * AuditCutRefused. Paged, so a cut of many events does not have to fit in memory.
 */
export async function checkCut(
  db: Db,
  cutSeq: number,
  before: string,
  keys: Verifier | undefined,
): Promise<string> {
  const anchor = await db
    .selectFrom("audit_anchor")
    .select(["seq", "hash", "mac"])
    .where("id", "=", 1)
    .executeTakeFirst();
  let prev = anchor?.hash ?? GENESIS;
  let lastSeq = anchor?.seq ?? 0;
  let seenSigned = (anchor?.mac ?? "") !== "";
  // A broken link names the edited event better than a date does: the first is reported after the walk.
  let misdated: AuditCutRefused | undefined;
  while (lastSeq < cutSeq) {
    const page = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">", lastSeq)
      .where("seq", "<=", cutSeq)
      .orderBy("seq")
      .limit(PAGE)
      .execute();
    // The cut's own event is gone (removed after it was chosen): nothing checked to sign.
    if (page.length === 0) throw new AuditCutRefused(cutSeq, "was removed while the cut was checked");
    for (const row of page) {
      const problem = await checkRow(row, prev, seenSigned, keys);
      if (problem) throw new AuditCutRefused(row.seq, problem);
      if (row.at >= before)
        misdated ??= new AuditCutRefused(
          row.seq,
          `is dated ${row.at}, not before ${before}, yet precedes the event cut at (seq ${cutSeq}): a date was edited, or the instances' clocks disagree`,
        );
      seenSigned ||= row.mac !== "";
      prev = row.hash;
      lastSeq = row.seq;
    }
  }
  if (misdated) throw misdated;
  return prev;
}
