import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { type Berth, startBerth } from "../../src/app.js";
import { takeLease } from "../../src/cluster/duty-lease.js";
import { loadConfig } from "../../src/config/config.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore, type Store } from "../../src/store/store.js";
import { serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, requestJson, startTestBerth } from "../support/test-berth.js";
import { createTestDatabase, onPostgresStore, openTestStore } from "../support/test-store.js";
import { until } from "../support/waits.js";

/**
 * Instances know each other: each registers in the store and heartbeats, GET /api/instances lists
 * them, a graceful stop removes the row, a silent one is dropped after three heartbeats, and the
 * once-only duties (retention) are held by one instance at a time and move when it goes.
 */
// The suites on a shared PostgreSQL store make their own databases: they run once, in the sqlite project.
const hasPostgres = (await serviceAvailable("postgres")) && !onPostgresStore;
const VERSION = (await import("../../package.json", { with: { type: "json" } })).default.version;

describe("one instance (on the test store)", () => {
  it("registers, lists itself as this instance, holds the retention duty, and leaves on a graceful stop", async () => {
    const b = await startTestBerth({ BERTH_PG_PORT: "0" });
    const listed = await b.api("/api/instances");
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.instances).toEqual([
      {
        id: b.berth.membership.id,
        version: VERSION,
        address: b.url,
        pgPort: b.berth.pgPort,
        startedAt: expect.any(String),
        lastHeartbeatAt: expect.any(String),
        poolsHeld: 0,
        thisInstance: true,
        duties: ["retention"],
      },
    ]);
    expect(b.berth.membership.holds("retention")).toBe(true);
    await b.close(true);
    const store = await openTestStore(b.dataDir);
    try {
      expect(await store.db.selectFrom("instances").selectAll().execute()).toEqual([]);
      expect(await store.db.selectFrom("duty_leases").selectAll().execute()).toEqual([]);
    } finally {
      await store.close();
      await rm(b.dataDir, { recursive: true, force: true });
    }
  });
});

/** Two holders competing for one lease, on each kind of store. */
async function leaseContest(store: Store) {
  const [a, b] = [randomUUID(), randomUUID()];
  const t0 = new Date();
  const at = (ms: number) => new Date(t0.getTime() + ms);
  // Both at once: exactly one wins.
  const first = await Promise.all([
    takeLease(store.db, "d", a, t0, 1000),
    takeLease(store.db, "d", b, t0, 1000),
  ]);
  expect(first.filter(Boolean)).toHaveLength(1);
  const [holder, other] = first[0] ? [a, b] : [b, a];
  // The holder renews; the other cannot take it while it is unexpired.
  expect(await takeLease(store.db, "d", holder, at(500), 1000)).toBe(true);
  expect(await takeLease(store.db, "d", other, at(1400), 1000)).toBe(false);
  // Not renewed past its expiry: the other takes it, and the old holder no longer can.
  expect(await takeLease(store.db, "d", other, at(1600), 1000)).toBe(true);
  expect(await takeLease(store.db, "d", holder, at(1700), 1000)).toBe(false);
}

describe.skipIf(onPostgresStore)("duty leases", () => {
  it("on SQLite: one holder at a time, renewed by it, taken over once expired", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-lease-"));
    const store = await openSqliteStore(dir);
    try {
      await leaseContest(store);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasPostgres)("on PostgreSQL: the same", async () => {
    const db = await createTestDatabase();
    const store = await openPostgresStore(db.url);
    try {
      await leaseContest(store);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe.skipIf(!hasPostgres)("instances sharing a PostgreSQL store", () => {
  const HEARTBEAT_MS = 300;
  const BOUND_MS = 3 * HEARTBEAT_MS;
  const started: Berth[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let token = "";

  afterAll(async () => {
    for (const b of started) await b.close().catch(() => {});
    for (const c of cleanups) await c();
  });

  async function cluster() {
    token = "";
    const dir = await mkdtemp(join(tmpdir(), "berth-instances-"));
    const store = await createTestDatabase();
    cleanups.push(store.drop, () => rm(dir, { recursive: true, force: true }));
    const env = {
      BERTH_PORT: "0",
      BERTH_DATA_DIR: dir,
      BERTH_STORE_URL: store.url,
      BERTH_MASTER_KEY: randomBytes(32).toString("base64"),
      BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
      BERTH_RATE_LIMITS: "off",
      BERTH_LOG_LEVEL: "silent",
      BERTH_SHUTDOWN_GRACE_MS: "500",
    };
    return async () => {
      const b = await startBerth(loadConfig(env), {
        logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
        heartbeatMs: HEARTBEAT_MS,
      });
      started.push(b);
      return b;
    };
  }

  async function instancesSeenBy(
    b: Berth,
  ): Promise<{ id: string; thisInstance: boolean; duties: string[] }[]> {
    if (!token) {
      const login = await requestJson(`${b.url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
      });
      token = JSON.parse(login.text).token;
    }
    const res = await requestJson(`${b.url}/api/instances`, {
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status, res.text).toBe(200);
    return JSON.parse(res.text).instances;
  }

  const ids = (list: { id: string }[]) => list.map((i) => i.id).sort();
  const holderOf = (...bs: Berth[]) => bs.filter((b) => b.membership.holds("retention"));

  it("both are listed, one holds retention; a graceful stop removes one at once and its duty moves", async () => {
    const start = await cluster();
    const [a, b] = [await start(), await start()];
    const both = ids([a.membership, b.membership]);
    const seenByA = await instancesSeenBy(a);
    expect(ids(seenByA)).toEqual(both);
    expect(seenByA.find((i) => i.thisInstance)?.id).toBe(a.membership.id);
    expect((await instancesSeenBy(b)).find((i) => i.thisInstance)?.id).toBe(b.membership.id);
    expect(holderOf(a, b)).toHaveLength(1);
    expect(seenByA.filter((i) => i.duties.includes("retention"))).toHaveLength(1);

    const [holder, survivor] = a.membership.holds("retention") ? [a, b] : [b, a];
    await holder.close();
    // Gone at once (not after the bound), and the duty is free for the survivor's next beat.
    expect(ids(await instancesSeenBy(survivor))).toEqual([survivor.membership.id]);
    await until("the survivor takes the retention duty", () => survivor.membership.holds("retention"), 5_000);
  });

  it("an instance that stops heartbeating is dropped after the bound, and its duty moves to a survivor", async () => {
    const start = await cluster();
    const [a, b, c] = [await start(), await start(), await start()];
    const [dead] = holderOf(a, b, c);
    expect(dead).toBeDefined();
    const survivors = [a, b, c].filter((x) => x !== dead);
    // As a process killed would: no deregistration, no lease released.
    const silentSince = Date.now();
    dead!.membership.stopHeartbeat();
    // Still listed right after: silence shorter than the bound is not death.
    expect(ids(await instancesSeenBy(survivors[0]!))).toContain(dead!.membership.id);
    await until(
      "the silent instance is dropped",
      async () => !ids(await instancesSeenBy(survivors[0]!)).includes(dead!.membership.id),
      10_000,
    );
    expect(Date.now() - silentSince).toBeGreaterThanOrEqual(BOUND_MS - HEARTBEAT_MS);
    await until("a survivor takes the retention duty", () => holderOf(...survivors).length === 1, 10_000);
    expect(ids(await instancesSeenBy(survivors[1]!))).toEqual(ids(survivors.map((s) => s.membership)));
  });
});
