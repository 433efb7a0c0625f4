import type { DriverSession } from "../../drivers/driver.js";
import { firstRowText, type ReplicationQuestions, type ReplicationState } from "../../drivers/replication.js";
import { textValue } from "../../drivers/values.js";

/*
 * One round trip per check. A primary's timeline is read from the name of its current WAL file
 * (its first 8 hex digits): pg_control_checkpoint() only moves at the next checkpoint, which a
 * promotion requests but does not wait for, so right after `pg_ctl promote` it still says the old
 * timeline. A standby cannot name WAL files; its last restartpoint's timeline is shown instead.
 * Lag is 0 while a standby has replayed everything it received (an idle primary writes nothing,
 * and a standby cut off from a dead primary has nothing left to replay), else the age of the last
 * transaction it replayed.
 */
const QUERY = `SELECT pg_is_in_recovery()::text,
  (CASE WHEN pg_is_in_recovery() THEN (pg_control_checkpoint()).timeline_id
        ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END)::text,
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
  (CASE WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
        ELSE round(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000) END)::text`;

async function observe(session: DriverSession): Promise<ReplicationState> {
  const [standby, timeline, position, lag] = await firstRowText(session, QUERY);
  return {
    standby: standby === "true",
    timeline: Number(timeline ?? 0) || 0,
    position: position ?? "",
    lagMs: lag === null || lag === undefined ? undefined : Math.max(0, Number(lag)),
  };
}

/** An LSN ("16/B374D848": two hex halves) as a number; undefined for anything else. */
export function lsnValue(lsn: string): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : undefined;
}

export const postgresReplication: ReplicationQuestions = {
  timelines: "server",
  observe,
  // The insert position: at or past the end of the commit record of what this session just wrote
  // (the write position may trail it under synchronous_commit = off).
  async writePosition(session) {
    const [lsn] = await firstRowText(session, "SELECT pg_current_wal_insert_lsn()::text");
    return lsn ?? "";
  },
  async hasReplayed(session, position) {
    const [yes] = await firstRowText(session, "SELECT (pg_last_wal_replay_lsn() >= $1::pg_lsn)::text", [
      textValue(position),
    ]);
    return yes === "true";
  },
  compare(a, b) {
    const x = lsnValue(a);
    const y = lsnValue(b);
    if (x === undefined || y === undefined) return undefined;
    return x < y ? -1 : x > y ? 1 : 0;
  },
};
