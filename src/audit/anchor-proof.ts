import { linkData, prunedData } from "./chain.js";
import { type CheckpointLine, signedData } from "./checkpoints.js";

/** The audit_anchor row: where the chain starts after retention. */
export interface AnchorRow {
  seq: number;
  hash: string;
  at: string;
  mac: string;
}

/** How the anchor was proven: by a retention-cut line in this instance's checkpoints file, or by its own signature alone. */
export type AnchorProof = "checkpoint" | "signature";

export interface AnchorKeys {
  verifyMac(data: Buffer, mac: string): Promise<boolean>;
}

export interface AnchorRules {
  /** The checkpoints file read (for reports); undefined when the log has none. */
  file: string | undefined;
  /**
   * Shared mode (a PostgreSQL store, possibly several instances): the cut's line is in the file of
   * the instance that ran the pass, which may be another, so a valid signature on the row suffices.
   */
  sharedStore: boolean;
}

type Proven = { proof: AnchorProof; problem?: undefined } | { proof?: undefined; problem: string };

/**
 * Whether the retention anchor is a cut Berth made, not history deleted with a later event copied in
 * as the anchor (which anyone with write access to the store could do: an event's seq, hash and MAC
 * form a valid link). The row's MAC must sign it as a retention cut (prunedData: its own prefix, so
 * an event's MAC does not fit), and a signed retention-cut line in the checkpoints file — outside
 * the store — must match it; in shared mode, when this file has none, the signature alone.
 */
export async function proveAnchor(
  anchor: AnchorRow,
  lines: CheckpointLine[],
  keys: AnchorKeys | undefined,
  rules: AnchorRules,
): Promise<Proven> {
  const where = `the retention anchor (seq ${anchor.seq})`;
  if (keys && !(await keys.verifyMac(prunedData(anchor.seq, anchor.hash, anchor.at), anchor.mac))) {
    const copied = anchor.mac !== "" && (await keys.verifyMac(linkData(anchor.seq, anchor.hash), anchor.mac));
    if (copied || anchor.mac === "")
      return {
        problem: `${where} is not proven by a checkpoint: it is ${copied ? "signed as an event" : "not signed"}, not as a retention cut — history before it was deleted outside Berth and the anchor ${copied ? "copied from an event" : "forged"}, or the anchor predates signed retention cuts (an upgrade: the next retention pass that removes events replaces it). ${COMPARE(anchor.seq)}`,
      };
    return { problem: `${where}: its MAC does not sign it as a retention cut (it was altered or forged)` };
  }
  if (!keys && anchor.mac !== "")
    return { problem: `${where} is signed, but this log has no key to verify it with` };
  for (const l of lines) {
    const h = l.head;
    if (l.kind !== "pruned" || !h || h.seq !== anchor.seq || h.head !== anchor.hash) continue;
    if (!keys || (await keys.verifyMac(signedData({ ...l, head: h }), h.mac))) return { proof: "checkpoint" };
  }
  if (rules.sharedStore || !rules.file) return { proof: "signature" };
  return {
    problem: `${where} is not proven by a checkpoint: no signed retention-cut line in ${rules.file} matches it — history before it was deleted outside Berth, the file was altered or replaced, or the anchor predates signed retention cuts (an upgrade: the next retention pass that removes events replaces it). ${COMPARE(anchor.seq)}`,
  };
}

const COMPARE = (seq: number) =>
  `Until then, compare the events up to seq ${seq} with a backup or the audit export to tell a deletion from retention`;
