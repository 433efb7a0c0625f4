import type { Value } from "../gen/berth/v1/values_pb.js";
import type { DriverSession } from "./driver.js";

/**
 * What a host says about its place in replication when a health check asks it: whether it
 * follows another server (a standby / replica) or takes writes, its timeline, how far it has
 * written or replayed, and how far behind it is. Observed on every check, never configured.
 */
export interface ReplicationState {
  /** In recovery (PostgreSQL) or read-only / replicating (MariaDB): it does not take writes. */
  readonly standby: boolean;
  /**
   * PostgreSQL's timeline (a promotion starts a new, higher one): among two hosts that both take
   * writes, the higher timeline is the newer primary. 0 where the engine has no such thing (the
   * health monitor then numbers the times it saw a host become writable: see `timelines`).
   */
  readonly timeline: number;
  /** The primary's current WAL position, or what a standby has replayed ("0/3000148"); "" if unknown. */
  readonly position: string;
  /**
   * How far a standby's replay is behind what it has received, in ms (0 when it has replayed all of
   * it); undefined when it cannot tell. Always 0 for a primary.
   */
  readonly lagMs: number | undefined;
}

/** What an engine can be asked about replication, each on a session the caller holds. */
export interface ReplicationQuestions {
  /**
   * Where a primary's timeline comes from: the server ("server", PostgreSQL), or Berth, which
   * numbers each time it sees a host of the connection become writable ("writable-since",
   * MariaDB/MySQL, whose servers have no such number): the one that became writable last wins.
   */
  readonly timelines: "server" | "writable-since";
  /** What the host is (a health probe's own session). Throws as a statement would. */
  observe(session: DriverSession): Promise<ReplicationState>;
  /**
   * On the primary, right after a write committed: a position at or past that commit, which a
   * replica that has replayed it has (the read-your-writes token's content).
   */
  writePosition(session: DriverSession): Promise<string>;
  /** On a replica: whether it has replayed at least up to `position`. */
  hasReplayed(session: DriverSession, position: string): Promise<boolean>;
  /**
   * Orders two positions of this engine (negative, 0, positive); undefined when either is not one
   * (a token made up, or from another engine).
   */
  compare(a: string, b: string): number | undefined;
}

/** A value of a result row as text (null as null). */
function text(v: Value): string | null {
  return v.kind.case === "text" ? v.kind.value : v.kind.case === "null" ? null : String(v.kind.value);
}

/** The first row of a statement, by column name, as text; undefined when it returned no row. */
export async function firstRowNamed(
  session: DriverSession,
  sql: string,
): Promise<Record<string, string | null> | undefined> {
  let names: string[] = [];
  let row: Record<string, string | null> | undefined;
  for await (const chunk of session.query(sql, [], { maxRows: 1, batchBytes: 65_536 })) {
    if (chunk.columns) names = chunk.columns.map((c) => c.name);
    const first = chunk.rows?.[0];
    if (first && !row) row = Object.fromEntries(first.values.map((v, i) => [names[i] ?? String(i), text(v)]));
  }
  return row;
}

/** The first row of a statement as text (every column cast to text by the statement itself). */
export async function firstRowText(
  session: DriverSession,
  sql: string,
  params: readonly Value[] = [],
): Promise<(string | null)[]> {
  let row: (string | null)[] | undefined;
  for await (const chunk of session.query(sql, params, { maxRows: 1, batchBytes: 16_384 })) {
    const first = chunk.rows?.[0];
    if (first && !row) row = first.values.map(text);
  }
  if (!row) throw new Error("the replication query returned no row");
  return row;
}
