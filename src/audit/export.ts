import { createWriteStream } from "node:fs";
import type { AuditEventRow } from "./chain.js";

/** Where each event is copied as a JSON line for a log pipeline: a write and a close. */
export interface AuditExport {
  write(row: AuditEventRow): void;
  close(): Promise<void>;
}

/**
 * BERTH_AUDIT_EXPORT: "stdout", or "file:<path>" (appended to). The chain in the store stays the
 * record; the copy is best effort, and a failing write is reported through onError, not to the caller.
 * Events carry no secret, so neither does the copy.
 */
export function openAuditExport(
  spec: string | undefined,
  onError: (err: unknown) => void,
): AuditExport | undefined {
  if (!spec) return undefined;
  const out =
    spec === "stdout"
      ? process.stdout
      : createWriteStream(spec.slice("file:".length), { flags: "a", mode: 0o600 });
  out.on("error", onError);
  return {
    write(row) {
      out.write(`${JSON.stringify(exportedEvent(row))}\n`);
    },
    close: () =>
      out === process.stdout
        ? Promise.resolve()
        : new Promise<void>((resolve) => (out as ReturnType<typeof createWriteStream>).end(resolve)),
  };
}

/** The JSON line of one event (named like the REST API's events, plus its links). */
export function exportedEvent(row: AuditEventRow) {
  return {
    type: "berth.audit",
    seq: row.seq,
    at: row.at,
    actorId: row.actor_id,
    actorName: row.actor_name,
    source: row.source,
    transport: row.transport,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    reason: row.reason,
    requestId: row.request_id,
    prevHash: row.prev_hash,
    hash: row.hash,
    mac: row.mac,
    keyVersion: row.key_version,
  };
}
