import type { DriverSession } from "../../drivers/driver.js";
import {
  firstRowNamed,
  firstRowText,
  type ReplicationQuestions,
  type ReplicationState,
} from "../../drivers/replication.js";

/*
 * MariaDB (and MySQL) hosts say what they are by their read-only flags and their replication
 * threads. A host is a standby when it is read-only (`@@read_only`, `@@innodb_read_only`) or
 * replicates (a replication thread running or trying to connect): a replica made writable while it
 * still follows a primary is not one to write to. Promotion, as HA tools (and the operator) do it,
 * is `STOP SLAVE; SET GLOBAL read_only = 0`.
 *
 * Positions are GTID positions ("0-1-42,1-2-7": domain-server-sequence per replication domain):
 * a primary's @@gtid_binlog_pos, what a replica has applied (@@gtid_slave_pos). One is at or past
 * another when, in each domain of the other, its sequence number is at least as high.
 *
 * MariaDB has no timeline: the health monitor numbers the times it sees a host become writable
 * (`timelines: "writable-since"`), and of two writable hosts the one that became writable last
 * takes writes.
 *
 * SHOW REPLICA STATUS needs the REPLICA MONITOR (MariaDB; REPLICATION CLIENT on MySQL) privilege.
 * Without it, a host's role is told by its read-only flags alone and its lag is unknown.
 */

const FLAGS =
  "SELECT @@global.read_only, @@global.innodb_read_only, @@global.gtid_binlog_pos, @@global.gtid_slave_pos";

/** The first of `names` the row has (MariaDB says Slave_/Master, MySQL 8 Replica_/Source). */
function field(row: Record<string, string | null>, ...names: string[]): string | null | undefined {
  for (const n of names) if (n in row) return row[n];
  return undefined;
}

/** The replication status row; undefined when the host replicates from nowhere, or may not say. */
async function replicaStatus(session: DriverSession): Promise<Record<string, string | null> | undefined> {
  try {
    return await firstRowNamed(session, "SHOW REPLICA STATUS");
  } catch (err) {
    if (!session.healthy) throw err;
  }
  try {
    // Servers older than the REPLICA spelling (MariaDB < 10.5, MySQL < 8.0.22).
    return await firstRowNamed(session, "SHOW SLAVE STATUS");
  } catch (err) {
    if (!session.healthy) throw err;
    return undefined;
  }
}

async function observe(session: DriverSession): Promise<ReplicationState> {
  const [readOnly, innodbReadOnly, binlogPos, slavePos] = await firstRowText(session, FLAGS);
  const status = await replicaStatus(session);
  const io = status ? field(status, "Slave_IO_Running", "Replica_IO_Running") : undefined;
  const sql = status ? field(status, "Slave_SQL_Running", "Replica_SQL_Running") : undefined;
  const replicating = io === "Yes" || io === "Connecting" || sql === "Yes";
  const standby = readOnly === "1" || innodbReadOnly === "1" || replicating;
  const behind = status ? field(status, "Seconds_Behind_Master", "Seconds_Behind_Source") : undefined;
  // NULL while the SQL thread is stopped (or the IO thread cannot connect on MySQL): unknown.
  const lagMs = !standby ? 0 : behind === null || behind === undefined ? undefined : Number(behind) * 1000;
  return {
    standby,
    timeline: 0,
    position: (standby ? (slavePos ?? "") : (binlogPos ?? "")).trim(),
    lagMs: lagMs !== undefined && Number.isFinite(lagMs) ? Math.max(0, lagMs) : undefined,
  };
}

/** A GTID position as its highest sequence number per domain; undefined if it is not one. */
export function gtidPosition(position: string): Map<string, bigint> | undefined {
  if (position === "") return undefined;
  const domains = new Map<string, bigint>();
  for (const part of position.split(",")) {
    const m = /^\s*(\d{1,10})-(\d{1,10})-(\d{1,20})\s*$/.exec(part);
    if (!m) return undefined;
    const seq = BigInt(m[3]!);
    if ((domains.get(m[1]!) ?? -1n) < seq) domains.set(m[1]!, seq);
  }
  return domains;
}

/** Whether position `a` covers `b`: in every domain of `b`, `a` has got at least as far. */
function covers(a: Map<string, bigint>, b: Map<string, bigint>): boolean {
  for (const [domain, seq] of b) if ((a.get(domain) ?? -1n) < seq) return false;
  return true;
}

/** A partial order: positions of different domains neither cover the other (-1 then: not reached). */
function compare(a: string, b: string): number | undefined {
  const x = gtidPosition(a);
  const y = gtidPosition(b);
  if (!x || !y) return undefined;
  const xy = covers(x, y);
  const yx = covers(y, x);
  return xy && yx ? 0 : xy ? 1 : -1;
}

export const mysqlReplication: ReplicationQuestions = {
  timelines: "writable-since",
  observe,
  // The GTID of this session's last transaction (the write just committed); the whole binlog
  // position when the server did not give one (binary log off: then there is no token at all).
  async writePosition(session) {
    const [last, binlog] = await firstRowText(
      session,
      "SELECT @@session.last_gtid, @@global.gtid_binlog_pos",
    );
    const position = last || binlog || "";
    if (!gtidPosition(position)) throw new Error("the server has no GTID position (is its binary log on?)");
    return position;
  },
  async hasReplayed(session, position) {
    const [applied] = await firstRowText(session, "SELECT @@global.gtid_slave_pos");
    return (compare(applied ?? "", position) ?? -1) >= 0;
  },
  compare,
};
