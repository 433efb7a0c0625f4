import type { DriverSession } from "../../drivers/driver.js";
import { firstRowText, type ReplicationState } from "../../drivers/replication.js";

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

export async function observePostgresReplication(session: DriverSession): Promise<ReplicationState> {
  const [standby, timeline, position, lag] = await firstRowText(session, QUERY);
  return {
    standby: standby === "true",
    timeline: Number(timeline ?? 0) || 0,
    position: position ?? "",
    lagMs: lag === null || lag === undefined ? undefined : Math.max(0, Number(lag)),
  };
}
