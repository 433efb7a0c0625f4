import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Db } from "../store/store.js";
import { currentLeases, releaseLeases, runExclusive, takeLease } from "./duty-lease.js";
import {
  deregisterInstance,
  heartbeatInstance,
  listInstanceRows,
  pruneStaleInstances,
  registerInstance,
} from "./instance-rows.js";

/** How often an instance says it is alive (and renews the duties it holds). */
export const HEARTBEAT_MS = 5_000;
/** An instance silent for this many heartbeats is gone; a duty lease lasts as long. */
export const STALE_AFTER_BEATS = 3;
/** How long a graceful stop waits for the store to take the row and the leases back. */
const STOP_BOUND_MS = 2_000;

/** What GET /api/instances shows of one instance. */
export interface InstanceView {
  id: string;
  version: string;
  address: string;
  pgPort: number | undefined;
  startedAt: Date;
  lastHeartbeatAt: Date;
  poolsHeld: number;
  thisInstance: boolean;
  duties: string[];
}

/** What this instance announces: known only once its listeners are up. */
export interface Announcement {
  address: string;
  pgPort: number | undefined;
  poolsHeld: () => number;
}

export interface MembershipOptions {
  db: Db;
  /** Tests shorten it; the stale bound and the lease TTL follow (× STALE_AFTER_BEATS). */
  heartbeatMs?: number;
  onError: (err: unknown, what: string) => void;
  /** Another instance was found silent past the bound and dropped. */
  onPruned?: (ids: string[]) => void;
}

interface Duty {
  /** Until when our lease is known good: a failed renewal stops counting at the lease's end. */
  heldUntil: number;
  onAcquired: () => void;
}

/** Berth's version, from package.json (two levels up from src/cluster and dist/cluster alike). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * This instance's place among the instances on one store: its row (registered at start, refreshed
 * by a heartbeat, removed on a graceful stop), the dropping of instances whose heartbeat stopped,
 * and the leases of duties that run on one instance at a time, renewed with the heartbeat.
 */
export class Membership {
  readonly id = randomUUID();
  readonly version = packageVersion();
  readonly startedAt = new Date();
  readonly heartbeatMs: number;
  readonly #opts: MembershipOptions;
  readonly #duties = new Map<string, Duty>();
  #announcement: Announcement | undefined;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: MembershipOptions) {
    this.#opts = opts;
    this.heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
  }

  get #boundMs(): number {
    return this.heartbeatMs * STALE_AFTER_BEATS;
  }

  /** A duty to compete for on every heartbeat; `onAcquired` runs each time this instance gets it. */
  duty(name: string, onAcquired: () => void = () => {}): void {
    this.#duties.set(name, { heldUntil: 0, onAcquired });
  }

  /** Whether this instance holds the duty's lease now (and so must run it). */
  holds(name: string): boolean {
    return (this.#duties.get(name)?.heldUntil ?? 0) > Date.now();
  }

  /** Runs a one-off pass unless another instance runs it now (then undefined: try again later). */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
    return runExclusive(this.#opts.db, name, this.id, this.#boundMs, fn);
  }

  /** Registers, beats once (taking free duties), then beats every heartbeatMs. */
  async start(announcement: Announcement): Promise<void> {
    this.#announcement = announcement;
    await this.#register(new Date());
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.#timer.unref();
  }

  async #register(now: Date): Promise<void> {
    const a = this.#announcement!;
    await registerInstance(this.#opts.db, {
      id: this.id,
      version: this.version,
      address: a.address,
      pg_port: a.pgPort ?? null,
      started_at: this.startedAt.toISOString(),
      last_heartbeat_at: now.toISOString(),
      pools_held: a.poolsHeld(),
    });
  }

  /** One heartbeat: our row, the stale others, our duties. Never rejects; failures go to onError. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#stopped || !this.#announcement) return;
    const { db } = this.#opts;
    const now = new Date();
    try {
      if (!(await heartbeatInstance(db, this.id, now, this.#announcement.poolsHeld())))
        await this.#register(now);
      const gone = await pruneStaleInstances(db, new Date(now.getTime() - this.#boundMs));
      if (gone.length > 0) this.#opts.onPruned?.(gone);
    } catch (err) {
      this.#opts.onError(err, "instance heartbeat");
    }
    for (const [name, duty] of this.#duties) {
      try {
        const was = duty.heldUntil > now.getTime();
        const held = await takeLease(db, name, this.id, now, this.#boundMs);
        duty.heldUntil = held ? now.getTime() + this.#boundMs : 0;
        if (held && !was) duty.onAcquired();
      } catch (err) {
        // Not renewed: what we hold stays ours only until the lease we had runs out.
        this.#opts.onError(err, `duty lease ${name}`);
      }
    }
  }

  /**
   * Stops beating without a word, as a process that died would: the row and the leases stay until
   * another instance finds them stale. For tests and for a stop that cannot reach the store.
   */
  stopHeartbeat(): void {
    clearInterval(this.#timer);
    this.#stopped = true;
    for (const duty of this.#duties.values()) duty.heldUntil = 0;
  }

  /**
   * Graceful stop: gives up the duties (another instance takes them at once) and removes the row.
   * Bounded by STOP_BOUND_MS so that a store that does not answer cannot hold up a shutdown: the row
   * and the leases are then left to expire, as for an instance that died.
   */
  async stop(): Promise<void> {
    const registered = this.#announcement !== undefined && !this.#stopped;
    this.stopHeartbeat();
    if (!registered) return;
    let timer: NodeJS.Timeout | undefined;
    const leave = (async () => {
      await this.#beating;
      await releaseLeases(this.#opts.db, this.id);
      await deregisterInstance(this.#opts.db, this.id);
    })();
    const bound = new Promise<void>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the store did not answer within ${STOP_BOUND_MS} ms`)),
        STOP_BOUND_MS,
      );
    });
    try {
      await Promise.race([leave, bound]);
    } catch (err) {
      this.#opts.onError(err, "instance deregistration");
    } finally {
      clearTimeout(timer);
      leave.catch(() => {});
    }
  }

  /** Every registered instance, this one marked, with the duties each holds. */
  async list(): Promise<InstanceView[]> {
    const now = new Date();
    const [rows, leases] = await Promise.all([
      listInstanceRows(this.#opts.db),
      currentLeases(this.#opts.db, now),
    ]);
    return rows.map((r) => ({
      id: r.id,
      version: r.version,
      address: r.address,
      pgPort: r.pg_port ?? undefined,
      startedAt: new Date(r.started_at),
      lastHeartbeatAt: new Date(r.last_heartbeat_at),
      poolsHeld: r.pools_held,
      thisInstance: r.id === this.id,
      duties: [...leases].filter(([, holder]) => holder === r.id).map(([name]) => name),
    }));
  }
}
