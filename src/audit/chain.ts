import { createHash } from "node:crypto";
import type { Selectable } from "kysely";
import type { AuditEventsTable } from "../store/schema.js";

export type AuditEventRow = Selectable<AuditEventsTable>;

/** The hash before the first event. */
export const GENESIS = "0".repeat(64);

/** The fields an event's hash covers: everything but its place (seq) and its own links. */
export type HashedFields = Omit<AuditEventRow, "seq" | "prev_hash" | "hash" | "mac" | "key_version">;

/**
 * The hash of an event: SHA-256 over the previous hash and every field, in a fixed order. Anyone can
 * recompute it, so on its own it only proves order; the keyed MAC over it (linkData) proves origin.
 */
export function eventHash(prevHash: string, row: HashedFields): string {
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

/**
 * What an event's MAC signs: its place and its hash. The hash covers every earlier event through
 * the chain, so one MAC vouches for the whole prefix; the seq stops a valid event being renumbered.
 */
export function linkData(seq: number, hash: string): Buffer {
  return Buffer.from(`berth audit event|${seq}|${hash}`, "utf8");
}

/** What a checkpoint's (and the published head's) MAC signs. */
export function checkpointData(seq: number, head: string, time: string): Buffer {
  return Buffer.from(`berth audit checkpoint|${seq}|${head}|${time}`, "utf8");
}

/**
 * What a retention cut's MAC signs (the anchor row's, and its "pruned" line in the checkpoints file).
 * Its own prefix: an event's MAC, which signs the same seq and hash, cannot be copied into an anchor.
 */
export function prunedData(seq: number, hash: string, time: string): Buffer {
  return Buffer.from(`berth audit pruned|${seq}|${hash}|${time}`, "utf8");
}

/** A signed statement that the chain had reached `seq` with hash `head` at `time`. */
export interface AuditHead {
  seq: number;
  head: string;
  time: string;
  /** The key version that signed it (0 when the log has no key). */
  keyVersion: number;
  mac: string;
}

/** A retention cut as published (head, Verify): the anchor and its retention-cut MAC (over prunedData). */
export interface AuditAnchor {
  seq: number;
  hash: string;
  time: string;
  mac: string;
}
