import { open, readFile } from "node:fs/promises";
import { type AuditHead, checkpointData, prunedData } from "./chain.js";

/**
 * Checkpoints live outside the store, in an append-only file (O_APPEND, fsync per line), so that
 * whoever can rewrite the store's tables cannot also rewind them: truncating the newest events, or
 * rewriting the chain, leaves checkpoints that no longer match.
 */
export async function appendCheckpoint(path: string, head: AuditHead): Promise<void> {
  await appendLine(path, head);
}

/**
 * A retention cut, signed over prunedData: the anchor it leaves (seq and hash). Written before the
 * cut is committed, so no anchor ever exists without its line; a line whose cut then failed still
 * states a true hash of the chain, and is checked like a checkpoint.
 */
export async function appendPruned(path: string, cut: AuditHead): Promise<void> {
  await appendLine(path, { type: "pruned", ...cut });
}

async function appendLine(path: string, record: object): Promise<void> {
  const file = await open(path, "a", 0o600);
  try {
    await file.write(`${JSON.stringify(record)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
}

export interface CheckpointLine {
  /** 1-based line number in the file, for reports. */
  line: number;
  /** Undefined for a line that is not a checkpoint at all. */
  head: AuditHead | undefined;
  /** A periodic checkpoint, or a retention cut (its head is the anchor the cut left). */
  kind: "checkpoint" | "pruned";
}

/** The data a line's MAC signs. */
export const signedData = (l: CheckpointLine & { head: AuditHead }): Buffer =>
  (l.kind === "pruned" ? prunedData : checkpointData)(l.head.seq, l.head.head, l.head.time);

/** Every line of the checkpoint file; none when it does not exist yet. */
export async function readCheckpoints(path: string): Promise<CheckpointLine[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const lines: CheckpointLine[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    lines.push({ line: i + 1, ...parseHead(raw) });
  });
  return lines;
}

function parseHead(raw: string): Omit<CheckpointLine, "line"> {
  try {
    const v = JSON.parse(raw) as Partial<AuditHead> & { type?: unknown };
    const kind = v.type === "pruned" ? "pruned" : "checkpoint";
    const ok =
      (v.type === undefined || kind === "pruned") &&
      Number.isSafeInteger(v.seq) &&
      typeof v.head === "string" &&
      typeof v.time === "string" &&
      typeof v.mac === "string";
    const head = {
      seq: v.seq!,
      head: v.head!,
      time: v.time!,
      keyVersion: Number(v.keyVersion ?? 0),
      mac: v.mac!,
    };
    return { kind, head: ok ? head : undefined };
  } catch {
    return { kind: "checkpoint", head: undefined };
  }
}

/** What the chain looked like, for comparing checkpoints with it. */
export interface ChainView {
  /** The chain's first kept seq is after this (the retention anchor, or 0). */
  anchorSeq: number;
  anchorHash: string;
  /** The newest seq present (anchorSeq when no event is left). */
  lastSeq: number;
  /** The hashes at the checkpoints' seqs that exist in the chain. */
  hashAt: Map<number, string>;
}

export interface CheckpointProblem {
  seq: number;
  problem: string;
}

/**
 * Compares each checkpoint with the chain: its MAC must verify, the chain must reach its seq (else
 * its newest events were removed), and the chain's hash there must be its head (else the chain was
 * rewritten). Checkpoints before the retention anchor are past retention and skipped. Retention
 * cut ("pruned") lines are checked the same way, their MAC over prunedData: one at the anchor's seq
 * must carry the anchor's hash, one past it (a cut whose commit failed) the chain's hash there.
 */
export async function checkCheckpoints(
  lines: CheckpointLine[],
  chain: ChainView,
  verifyMac: ((data: Buffer, mac: string) => Promise<boolean>) | undefined,
): Promise<{ checked: number; problem: CheckpointProblem | undefined }> {
  let checked = 0;
  for (const l of lines) {
    const { line, head, kind } = l;
    if (!head)
      return { checked, problem: { seq: 0, problem: `checkpoint line ${line} is not a checkpoint` } };
    const where = `${kind === "pruned" ? "retention cut" : "checkpoint"} line ${line} (seq ${head.seq})`;
    if (verifyMac && !(await verifyMac(signedData({ ...l, head }), head.mac)))
      return {
        checked,
        problem: { seq: head.seq, problem: `${where} does not carry a valid MAC (it was altered)` },
      };
    if (head.seq < chain.anchorSeq) continue;
    if (head.seq > chain.lastSeq)
      return {
        checked,
        problem: {
          seq: chain.lastSeq + 1,
          problem: `${where} is past the chain's end at seq ${chain.lastSeq}: the newest events were removed`,
        },
      };
    const actual = head.seq === chain.anchorSeq ? chain.anchorHash : chain.hashAt.get(head.seq);
    if (actual === undefined)
      return {
        checked,
        problem: { seq: head.seq, problem: `${where}: that event is missing from the chain` },
      };
    if (actual !== head.head)
      return {
        checked,
        problem: {
          seq: head.seq,
          problem: `${where} does not match the chain's hash there (the chain was rewritten)`,
        },
      };
    checked++;
  }
  return { checked, problem: undefined };
}
