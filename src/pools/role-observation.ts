// Role observation: what a health check asks a host about itself (the engine's replication question),
// apart from the check loop (health.ts) and the decision made from the answers (roles.ts).
import type { ReplicationState } from "../drivers/replication.js";
import { ENGINES } from "../engines/index.js";
import type { ConnectionPool } from "./pool.js";

/** The snapshot fields a replication answer sets. */
export function replicationFields(r: ReplicationState) {
  return { timeline: r.timeline, position: r.position, replicaLagMs: r.standby ? r.lagMs : undefined };
}

/** Whether the engine's hosts are asked what they are. */
export function observable(pool: ConnectionPool): boolean {
  return ENGINES[pool.settings.type]?.replication !== undefined;
}

/**
 * One check: a probe that asks the engine's replication question where there is one. A host that
 * cannot answer it (a statement error, not a lost connection: old version, a function revoked)
 * is pinged instead and keeps the role it was saved with.
 */
export async function probeRoles(
  pool: ConnectionPool,
  timeoutMs: number,
): Promise<{ latency: number; replication: ReplicationState | undefined }> {
  const observe = ENGINES[pool.settings.type]?.replication;
  let replication: ReplicationState | undefined;
  const latency = await pool.probe(
    timeoutMs,
    observe
      ? async (session) => {
          try {
            replication = await observe.observe(session);
          } catch (err) {
            if (pool.driver.isConnectionError(err) || !session.healthy) throw err;
            await session.ping();
          }
        }
      : undefined,
  );
  return { latency, replication };
}
