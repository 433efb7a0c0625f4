import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { BudgetEvent, BudgetKey, Contenders, Permit, SessionBudget } from "../pools/budget.js";
import { GIVE_BACK, RENEW, TAKE } from "./budget-scripts.js";

/** Where a returned permit is announced, so that instances with callers waiting try at once. */
const FREED_CHANNEL = "berth:budget-freed";
/** Where an instance with callers waiting says so (`<key>|<instance id>`), so the others keep to their share. */
const WANTED_CHANNEL = "berth:budget-wanted";
/** An instance says it wants at most this often per key… */
const WANT_EVERY_MS = 100;
/**
 * …and counts as wanting for this long after it last said so. Long against event-loop lag: an
 * instance opening its first sessions while the others hold the budget must win a race for each
 * permit they free, and one whose announcements lapsed between its (lagging) retries lost every
 * race — the others took their whole budget back each time — until its callers timed out.
 */
const WANT_FRESH_MS = 3_000;

export interface RedisBudgetOptions {
  redisUrl: string;
  /** A lease's length: a dead instance's permits come back this long after its last renewal. */
  ttlMs: number;
  /** Every Redis command gives up after this; a timeout counts as the budget being unreachable. */
  commandTimeoutMs: number;
  /** Prefix of the budgets' keys (default `berth:budget:`): tests keep theirs apart. */
  prefix?: string;
  /** Told when a renewal or a give-back fails (Redis down): for the log. */
  onError?: (err: unknown, what: string) => void;
}

interface Commands {
  budgetTake(key: string, member: string, max: number, ttlMs: number): Promise<[number, number]>;
  budgetRenew(key: string, max: number, ttlMs: number, ...members: string[]): Promise<string[]>;
  budgetGiveBack(key: string, member: string, channel: string): Promise<number>;
}

class LeasedPermit implements Permit {
  lost = false;
  #released = false;
  constructor(
    readonly member: string,
    readonly giveBack: (p: LeasedPermit) => void,
  ) {}

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.giveBack(this);
  }
}

/** This instance's permits of one budget (a connection's host). */
interface Holding {
  max: number;
  readonly permits: Map<string, LeasedPermit>;
}

/**
 * The connection budget in Redis: each session holds a lease, renewed by its instance every third of
 * the lease's length and given back when the session closes. A lease rather than a counter because
 * instances die without saying so (SIGKILL, a lost machine): a counter would keep a dead instance's
 * share forever, while a lease returns it once it runs out (BERTH_BUDGET_TTL_MS). A lease per
 * session rather than a share per instance because shares must be recomputed on every change of
 * membership and overshoot while they are (Supavisor's FAQ); leases need no membership at all.
 */
export class RedisSessionBudget implements SessionBudget {
  readonly #redis: Redis & Commands;
  readonly #subscriber: Redis;
  readonly #options: RedisBudgetOptions;
  readonly #instanceId = randomUUID();
  readonly #prefix: string;
  readonly #holdings = new Map<string, Holding>();
  readonly #watchers = new Map<string, Set<(event: BudgetEvent) => void>>();
  readonly #renewer: NodeJS.Timeout;
  #seq = 0;
  #renewing = false;
  #closed = false;
  /** close() waiting for the last permit to come back. */
  #emptied: (() => void) | undefined;
  /** Per key: the other instances that want sessions, and when they last said so (performance.now()). */
  readonly #wanted = new Map<string, Map<string, number>>();
  /** Per key: when this instance last said it wants. */
  readonly #saidWant = new Map<string, number>();

  constructor(options: RedisBudgetOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? "berth:budget:";
    // As the cache bus: no offline queue and a command timeout, so a Redis that is down or frozen
    // answers "unreachable" in bounded time instead of holding callers.
    this.#redis = new Redis(options.redisUrl, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs,
    }) as Redis & Commands;
    this.#redis.defineCommand("budgetTake", { numberOfKeys: 1, lua: TAKE });
    this.#redis.defineCommand("budgetRenew", { numberOfKeys: 1, lua: RENEW });
    this.#redis.defineCommand("budgetGiveBack", { numberOfKeys: 1, lua: GIVE_BACK });
    this.#redis.on("error", () => {});
    this.#subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    this.#subscriber.on("error", () => {});
    void this.#subscriber.subscribe(FREED_CHANNEL, WANTED_CHANNEL).catch(() => {});
    this.#subscriber.on("message", (channel: string, message: string) => {
      if (channel === FREED_CHANNEL) this.#tell(message, "freed");
      else this.#heardWant(message);
    });
    this.#renewer = setInterval(() => void this.#renew(), Math.max(100, Math.floor(options.ttlMs / 3)));
    this.#renewer.unref();
  }

  #keyOf(key: BudgetKey): string {
    return `${this.#prefix}${key.connectionId}:${key.host}`;
  }

  async take(key: BudgetKey, max: number): ReturnType<SessionBudget["take"]> {
    const name = this.#keyOf(key);
    const member = `${this.#instanceId}:${++this.#seq}`;
    let answer: [number, number];
    try {
      answer = await this.#redis.budgetTake(name, member, max, this.#options.ttlMs);
    } catch (err) {
      // The take may have run in Redis although its answer came too late (a slow Redis, or this
      // event loop lagging past the command timeout): its member would hold a permit for a whole
      // lease for nobody, starving the pools that wait. It is given back as soon as Redis answers
      // (removing a member that was never added does nothing).
      void this.#redis.budgetGiveBack(name, member, FREED_CHANNEL).catch(() => {});
      throw err;
    }
    const [taken, held] = answer;
    if (taken !== 1) return { full: { held, max } };
    const permit = new LeasedPermit(member, (p) => this.#giveBack(name, p));
    let holding = this.#holdings.get(name);
    if (!holding) {
      holding = { max, permits: new Map() };
      this.#holdings.set(name, holding);
    }
    holding.max = max;
    holding.permits.set(member, permit);
    // Closed while the permit was being taken: nobody will renew it or give it back but us.
    if (this.#closed) permit.release();
    return { permit };
  }

  #giveBack(name: string, permit: LeasedPermit): void {
    const holding = this.#holdings.get(name);
    if (holding?.permits.delete(permit.member) && holding.permits.size === 0) this.#holdings.delete(name);
    if (this.#holdings.size === 0) this.#emptied?.();
    if (permit.lost) return;
    // Not given back (Redis down): its lease runs out by itself, which is the safe side.
    void this.#redis
      .budgetGiveBack(name, permit.member, FREED_CHANNEL)
      .catch((err) => this.#options.onError?.(err, "connection budget: give back a permit"));
  }

  /** Extends this instance's leases; those others took while we could not renew are lost. */
  async #renew(): Promise<void> {
    if (this.#renewing || this.#closed) return;
    this.#renewing = true;
    try {
      await Promise.all(
        [...this.#holdings].map(async ([name, holding]) => {
          const members = [...holding.permits.keys()];
          if (members.length === 0) return;
          const lost = await this.#redis.budgetRenew(name, holding.max, this.#options.ttlMs, ...members);
          for (const member of lost) {
            const permit = holding.permits.get(member);
            if (!permit) continue;
            permit.lost = true;
            holding.permits.delete(member);
          }
          if (lost.length > 0) this.#tell(name, "lost");
        }),
      );
    } catch (err) {
      this.#options.onError?.(err, "connection budget: renew leases");
    } finally {
      this.#renewing = false;
    }
  }

  want(key: BudgetKey): void {
    const name = this.#keyOf(key);
    const now = performance.now();
    if (now - (this.#saidWant.get(name) ?? Number.NEGATIVE_INFINITY) < WANT_EVERY_MS) return;
    this.#saidWant.set(name, now);
    void this.#redis.publish(WANTED_CHANNEL, `${name}|${this.#instanceId}`).catch(() => {});
  }

  #heardWant(message: string): void {
    const cut = message.lastIndexOf("|");
    const name = message.slice(0, cut);
    const from = message.slice(cut + 1);
    if (from === this.#instanceId || !this.#watchers.has(name)) return;
    let wanting = this.#wanted.get(name);
    if (!wanting) {
      wanting = new Map();
      this.#wanted.set(name, wanting);
    }
    wanting.set(from, performance.now());
    this.#tell(name, "wanted");
  }

  contenders(key: BudgetKey): Contenders {
    const wanting = this.#wanted.get(this.#keyOf(key));
    if (!wanting) return { self: this.#instanceId, others: [] };
    const now = performance.now();
    const others: string[] = [];
    for (const [id, at] of wanting) {
      if (now - at <= WANT_FRESH_MS) others.push(id);
      else wanting.delete(id);
    }
    return { self: this.#instanceId, others };
  }

  watch(key: BudgetKey, listener: (event: BudgetEvent) => void): () => void {
    const name = this.#keyOf(key);
    let set = this.#watchers.get(name);
    if (!set) {
      set = new Set();
      this.#watchers.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#watchers.get(name) === set) this.#watchers.delete(name);
    };
  }

  #tell(name: string, event: BudgetEvent): void {
    for (const listener of this.#watchers.get(name) ?? []) listener(event);
  }

  /** Waits (up to timeoutMs) for Redis at start-up; the budget answers "unreachable" until then. */
  ready(timeoutMs = 3_000): Promise<void> {
    if (this.#redis.status === "ready") return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#redis.once("ready", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Disconnects once every permit is back: pools are closed first, and their sessions' permits come
   * back as the sessions finish closing; those still held after `graceMs` are given back anyway.
   */
  async close(graceMs = 1_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#holdings.size > 0) {
      const emptied = new Promise<void>((resolve) => {
        this.#emptied = resolve;
      });
      const timer = setTimeout(() => this.#emptied?.(), graceMs);
      await emptied;
      clearTimeout(timer);
    }
    clearInterval(this.#renewer);
    const giving = [...this.#holdings].flatMap(([name, holding]) =>
      [...holding.permits.keys()].map((member) =>
        this.#redis.budgetGiveBack(name, member, FREED_CHANNEL).catch(() => 0),
      ),
    );
    this.#holdings.clear();
    await Promise.all(giving);
    this.#redis.disconnect();
    this.#subscriber.disconnect();
  }
}
