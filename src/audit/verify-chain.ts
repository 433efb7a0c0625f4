import type { Db } from "../store/store.js";
import { type AnchorProof, type AnchorRules, proveAnchor } from "./anchor-proof.js";
import { type AuditAnchor, type AuditEventRow, eventHash, GENESIS, linkData } from "./chain.js";
import { type ChainView, checkCheckpoints, readCheckpoints } from "./checkpoints.js";

export interface VerifyReport {
  ok: boolean;
  checked: number;
  /** Sequence number of the first event whose link is broken (edited, removed, reordered, truncated). */
  firstBrokenSeq?: number;
  problem?: string;
  /** Which key version signed what: per provider ("local" / "vault") and version, how many events and their seq range. */
  signedBy: { provider: string; version: number; events: number; firstSeq: number; lastSeq: number }[];
  /** Events from before keyed links (the chain's oldest part, if any): vouched for by hash alone. */
  unsigned: number;
  /** Checkpoints compared with the chain (those past retention are skipped). */
  checkpointsChecked: number;
  /** The retention anchor the chain starts from, and what proved it (absent before any retention cut). */
  anchor?: AuditAnchor & { proof: AnchorProof | undefined };
}

export interface Verifier {
  verifyMac(data: Buffer, mac: string): Promise<boolean>;
  versionOf(mac: string): number | undefined;
  /** Whether a configured provider wrote this MAC (else it cannot be checked here). */
  owns?(mac: string): boolean;
}

type Broken = { seq: number; problem: string };

/**
 * Each row's own checks: its link to the one before, its hash, its MAC and the version it names.
 * Also what a retention cut checks before it removes rows (see checkCut).
 */
export async function checkRow(
  row: AuditEventRow,
  prev: string,
  seenSigned: boolean,
  keys: Verifier | undefined,
): Promise<string | undefined> {
  if (row.prev_hash !== prev) return "does not follow the event before it (one was removed or reordered)";
  const { seq: _s, prev_hash: _p, hash: _h, mac: _m, key_version: _k, ...fields } = row;
  if (eventHash(prev, fields) !== row.hash) return "its content does not match its hash (it was edited)";
  if (row.mac === "") {
    return seenSigned ? "has no MAC although events before it are signed (its MAC was stripped)" : undefined;
  }
  if (!keys) return "is signed, but this log has no key to verify it with";
  if (keys.owns && !keys.owns(row.mac))
    return `is signed by the ${row.mac.startsWith("vault:") ? "vault" : "local"} key provider, which is not configured`;
  if (keys.versionOf(row.mac) !== row.key_version)
    return "its key version does not match its MAC (it was altered)";
  if (!(await keys.verifyMac(linkData(row.seq, row.hash), row.mac)))
    return "its MAC does not match (it was edited and re-hashed, renumbered, or signed by another key)";
  return undefined;
}

/**
 * Walks the chain from the retention anchor (proven first: see proveAnchor): every link, hash and MAC; then compares the chain with
 * the checkpoints file, which catches what the chain alone cannot — its newest events removed, or
 * the whole chain rewritten with hashes anyone can compute. Counts events per signing key version.
 */
export async function verifyChain(
  db: Db,
  keys: Verifier | undefined,
  rules: AnchorRules,
): Promise<VerifyReport> {
  const lines = rules.file ? await readCheckpoints(rules.file) : [];
  const wanted = new Set(lines.flatMap((l) => (l.head ? [l.head.seq] : [])));
  const anchor = await db.selectFrom("audit_anchor").selectAll().where("id", "=", 1).executeTakeFirst();
  const counts = new Map<string, { events: number; firstSeq: number; lastSeq: number }>();
  let proof: AnchorProof | undefined;
  const report = (broken?: Broken, checkpointsChecked = 0): VerifyReport => ({
    ok: !broken,
    checked,
    ...(broken ? { firstBrokenSeq: broken.seq, problem: broken.problem } : {}),
    signedBy: [...counts].map(([key, c]) => {
      const [provider = "", version = "0"] = key.split(":v");
      return { provider, version: Number(version), ...c };
    }),
    unsigned,
    checkpointsChecked,
    ...(anchor
      ? { anchor: { seq: anchor.seq, hash: anchor.hash, time: anchor.at, mac: anchor.mac, proof } }
      : {}),
  });
  let prev = anchor?.hash ?? GENESIS;
  let checked = 0;
  let unsigned = 0;
  let lastSeq = anchor?.seq ?? 0;
  let seenSigned = false;
  if (anchor) {
    seenSigned = anchor.mac !== "";
    const proven = await proveAnchor(anchor, lines, keys, rules);
    if (proven.problem !== undefined) return report({ seq: anchor.seq, problem: proven.problem });
    proof = proven.proof;
  }
  const hashAt = new Map<number, string>();
  // In pages, so a long log does not have to fit in memory.
  for (;;) {
    const page = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">", lastSeq)
      .orderBy("seq")
      .limit(1000)
      .execute();
    if (page.length === 0) break;
    for (const row of page) {
      const problem = await checkRow(row, prev, seenSigned, keys);
      if (problem) return report({ seq: row.seq, problem });
      if (row.mac === "") unsigned++;
      else {
        seenSigned = true;
        const key = `${row.mac.startsWith("vault:") ? "vault" : "local"}:v${row.key_version}`;
        const c = counts.get(key) ?? { events: 0, firstSeq: row.seq, lastSeq: row.seq };
        counts.set(key, { ...c, events: c.events + 1, lastSeq: row.seq });
      }
      if (wanted.has(row.seq)) hashAt.set(row.seq, row.hash);
      prev = row.hash;
      checked++;
      lastSeq = row.seq;
    }
  }
  const view: ChainView = {
    anchorSeq: anchor?.seq ?? 0,
    anchorHash: anchor?.hash ?? GENESIS,
    lastSeq,
    hashAt,
  };
  const cp = await checkCheckpoints(lines, view, keys ? (d, m) => keys.verifyMac(d, m) : undefined);
  return report(cp.problem, cp.checked);
}
