import { afterEach, vi } from "vitest";
import {
  type ConnectionSettings,
  Credentials,
  NO_ENGINE_OPTIONS,
  POOL_DEFAULTS,
  type PoolSettings,
} from "../../src/connections/settings.js";
import type { SessionBudget } from "../../src/pools/budget.js";
import { ConnectionPool } from "../../src/pools/pool.js";
import type { DestroyReason } from "../../src/pools/pool-types.js";
import { FakeDriver } from "./fake-driver.js";

export function fakeSettings(pool: Partial<PoolSettings> = {}): ConnectionSettings {
  return {
    name: "fake",
    type: "postgresql",
    server: "db.example",
    port: 5432,
    database: "d",
    sslMode: "disable",
    caCertificate: "",
    clientCertificate: "",
    tlsServerName: "",
    engineOptions: NO_ENGINE_OPTIONS,
    pool: { ...POOL_DEFAULTS, ...pool },
    replicas: [],
    description: "",
  };
}

export interface FakePool {
  pool: ConnectionPool;
  driver: FakeDriver;
  /** Why each session left the pool, by session id, in order. */
  destroyed: { id: number; reason: DestroyReason }[];
}

const open: ConnectionPool[] = [];

/** After each test of the calling file: the pools fakePool made are closed and real timers are back. */
export function closePoolsAfterEach(): void {
  afterEach(async () => {
    const closing = open.splice(0).map((p) => p.close(0));
    if (vi.isFakeTimers()) await vi.runAllTimersAsync();
    await Promise.all(closing);
    vi.useRealTimers();
  });
}

/** Fake timers from now on in the current test, performance.now included (the pool reads it). */
export function startClock(): void {
  if (vi.isFakeTimers()) return;
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"] });
}

/**
 * A pool over a fake driver with the given pool settings, on fake timers; with `budget`, a connection
 * budget shared with the other pools given the same one (as several instances share one in Redis).
 */
export function fakePool(
  pool: Partial<PoolSettings> = {},
  driver = new FakeDriver(),
  budget?: SessionBudget,
): FakePool {
  startClock();
  const p = new ConnectionPool({
    connectionId: "c1",
    settings: fakeSettings(pool),
    credentials: new Credentials("u", "secret-password", undefined),
    driver,
    connectTimeoutMs: 1_000,
    budget,
  });
  open.push(p);
  const destroyed: FakePool["destroyed"] = [];
  p.on("destroyed", (s, reason) => destroyed.push({ id: s.id, reason }));
  return { pool: p, driver, destroyed };
}

/** Lets promise callbacks run without moving the clock. */
export async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

/** Moves the fake clock by `ms`, running the timers and promise callbacks due meanwhile. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/** What a promise has come to so far: "pending", "resolved", or the rejection's reason code. */
export function track<T>(promise: Promise<T>): { state: string; value: T | undefined } {
  const t: { state: string; value: T | undefined } = { state: "pending", value: undefined };
  promise.then(
    (v) => {
      t.state = "resolved";
      t.value = v;
    },
    (e: { details?: { reason?: string } }) => {
      t.state = e.details?.reason ?? String(e);
    },
  );
  return t;
}
