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
 * The retention cut: walks the events from the current anchor up to `lastSeq` (the newest dated
 * before `before`) as Verify does — link, hash (which covers `at`), MAC — and cuts before the first
 * one that is not older than `before`. `at` is chosen by whoever wrote the row, and anyone with
 * write access to the store can back-date one: without the walk, one back-dated recent event would
 * have Berth delete everything before it and sign the cut; stopping at the first recent event also
 * keeps two instances' slightly different clocks from cutting an event another dated later. An
 * event that fails its check refuses the cut (AuditCutRefused: nothing is removed). Returns the
 * last event to remove and its hash as read and checked here (what the cut signs), or undefined
 * when none may go. Paged, so a cut of many events does not have to fit in memory.
 */
export async function checkCut(
  db: Db,
  lastSeq: number,
  before: string,
  keys: Verifier | undefined,
): Promise<{ seq: number; hash: string } | undefined> {
  const anchor = await db
    .selectFrom("audit_anchor")
    .select(["seq", "hash", "mac"])
    .where("id", "=", 1)
    .executeTakeFirst();
  let prev = anchor?.hash ?? GENESIS;
  let walked = anchor?.seq ?? 0;
  let seenSigned = (anchor?.mac ?? "") !== "";
  let cut: { seq: number; hash: string } | undefined;
  while (walked < lastSeq) {
    const page = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">", walked)
      .where("seq", "<=", lastSeq)
      .orderBy("seq")
      .limit(PAGE)
      .execute();
    // The rows were removed after they were chosen (another instance's pass): nothing checked to sign.
    if (page.length === 0) throw new AuditCutRefused(lastSeq, "was removed while the cut was checked");
    for (const row of page) {
      const problem = await checkRow(row, prev, seenSigned, keys);
      if (problem) throw new AuditCutRefused(row.seq, problem);
      if (row.at >= before) return cut;
      seenSigned ||= row.mac !== "";
      prev = row.hash;
      walked = row.seq;
      cut = { seq: row.seq, hash: row.hash };
    }
  }
  return cut;
}
