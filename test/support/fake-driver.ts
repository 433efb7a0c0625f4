import type { ConnectParams, Driver, DriverFailure, DriverSession } from "../../src/drivers/driver.js";

/** Resolves after `ms` on the (possibly faked) timers; at once for 0. */
function after(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/**
 * A session that talks to nothing: it counts what the pool does with it, and fails or stalls where
 * its driver says so. The pool's own logic is what is under test.
 */
export class FakeSession implements DriverSession {
  readonly id: number;
  readonly #driver: FakeDriver;
  healthy = true;
  resets = 0;
  pings = 0;
  closed = false;
  destroyed = false;

  constructor(driver: FakeDriver, id: number) {
    this.#driver = driver;
    this.id = id;
  }

  async serverVersion(): Promise<string> {
    return "fake 1.0";
  }

  /** The pool never runs statements: an empty result will do. */
  async *query() {}

  async cancel(): Promise<void> {}
  async begin(): Promise<void> {}
  async commit(): Promise<void> {}
  async rollback(): Promise<void> {}

  async reset(): Promise<void> {
    this.resets++;
    this.#driver.resets++;
    await after(this.#driver.resetDelayMs);
    if (this.#driver.failReset) throw new Error("reset failed: server said no");
  }

  async ping(): Promise<void> {
    this.pings++;
    this.#driver.pings++;
    if (this.#driver.pingHangs) return new Promise(() => {});
    if (this.#driver.failPing) throw new Error("ping failed: connection reset");
  }

  async close(): Promise<void> {
    if (this.closed) throw new Error("closed twice");
    this.closed = true;
    this.healthy = false;
    this.#driver.closed++;
  }

  destroy(): void {
    this.destroyed = true;
    this.healthy = false;
  }
}

/**
 * A Driver with controllable behaviour for pool tests: how long an open takes, whether opens,
 * resets and pings fail, and counters of what was done. Flip a field between steps of a test.
 */
export class FakeDriver implements Driver {
  readonly engine = "postgresql" as const;
  /** How long connect() takes (on the test's timers). */
  openDelayMs = 0;
  /** When set, connect() rejects with this error after openDelayMs. */
  openFailure: Error | undefined;
  /** reset() rejects. */
  failReset = false;
  /** How long reset() takes. */
  resetDelayMs = 0;
  /** ping() rejects. */
  failPing = false;
  /** ping() never answers (a black-holed network). */
  pingHangs = false;

  opened = 0;
  openAttempts = 0;
  closed = 0;
  resets = 0;
  pings = 0;
  readonly sessions: FakeSession[] = [];
  readonly connects: ConnectParams[] = [];

  async connect(params: ConnectParams): Promise<FakeSession> {
    this.openAttempts++;
    this.connects.push(params);
    await after(this.openDelayMs);
    if (this.openFailure) throw this.openFailure;
    const session = new FakeSession(this, this.sessions.length + 1);
    this.sessions.push(session);
    this.opened++;
    return session;
  }

  async negotiateTls(): Promise<"not_offered"> {
    return "not_offered";
  }

  describeError(err: unknown): DriverFailure {
    return { reason: "connection_refused", code: "ECONNREFUSED", message: String(err) };
  }

  isConnectionError(): boolean {
    return false;
  }

  /** Sessions that are open (neither closed nor destroyed). */
  get open(): number {
    return this.sessions.filter((s) => !s.closed && !s.destroyed).length;
  }
}
