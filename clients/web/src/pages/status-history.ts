import type { ConnectionHealth } from "../../../../src/gen/berth/v1/connection_service_pb.js";

/** One snapshot of the status stream, as the charts draw it. */
export interface StatusSample {
  /** Seconds since the epoch (the browser's clock when the snapshot arrived). */
  t: number;
  waitP95: number | null;
  queryP95: number | null;
  inUse: number | null;
  idle: number | null;
  waiting: number | null;
  /** Check latency per host slot (ms). */
  hosts: Record<string, number>;
}

/**
 * Berth keeps no history of pool numbers (each snapshot is "now", its percentiles over the last
 * minute): the page keeps the last WINDOW snapshots itself, so the charts start empty on each visit.
 * At one snapshot every 2 s this is ten minutes.
 */
export const WINDOW = 300;

export function sampleOf(health: ConnectionHealth, now = Date.now()): StatusSample {
  const p = health.pool;
  const hosts: Record<string, number> = {};
  for (const h of health.hosts) hosts[h.slot] = h.lastLatencyMs;
  return {
    t: now / 1000,
    waitP95: p ? p.acquireWaitP95Ms : null,
    queryP95: p ? p.queryP95Ms : null,
    inUse: p ? p.inUse : null,
    idle: p ? p.idle : null,
    waiting: p ? p.waiting : null,
    hosts,
  };
}

export function appendSample(history: StatusSample[], s: StatusSample): StatusSample[] {
  const next = [...history, s];
  return next.length > WINDOW ? next.slice(next.length - WINDOW) : next;
}

/** Each host's latencies in the window, oldest first. */
export function hostLatencies(history: StatusSample[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of history)
    for (const [slot, ms] of Object.entries(s.hosts)) {
      out[slot] ??= [];
      out[slot].push(ms);
    }
  return out;
}
