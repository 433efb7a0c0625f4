import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPgConnection,
  createUser,
  type FrontDoorClientOptions,
  frontDoorClient,
  metricSamples,
  signInFailure,
  startupMessage,
} from "../support/frontdoor-pg.js";
import { authCode, RawPgSocket, saslInitialResponse } from "../support/frontdoor-raw.js";
import { serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * The front door's figures on /metrics (issue 12): clients by state, transactions, bytes by
 * direction, the wait for a backend, pins by why, sign-ins by outcome, each moving by exactly what
 * the clients did. One Berth of its own, one client at a time unless a test says otherwise.
 */
const hasPostgres = await serviceAvailable("postgres");
const METRICS_TOKEN = "metrics-token-frontdoor-metrics";

let t: TestBerth;
let id = "";

beforeAll(async () => {
  if (!hasPostgres) return;
  t = await startTestBerth({
    BERTH_PG_PORT: "0",
    BERTH_METRICS_TOKEN: METRICS_TOKEN,
    BERTH_LOGIN_FAILURE_LIMIT: "2",
    BERTH_LOGIN_FAILURE_DELAY_MS: "0",
  });
  // One backend: a second client waits for it, which the metrics must show.
  id = await createPgConnection(t, "fd-m", { maxPoolSize: 1, acquireTimeoutMs: 10_000 });
  await createUser(t, "mona", "mona-password-0001", { [id]: "user" });
  await createUser(t, "lockme", "lockme-password-01", { [id]: "user" });
}, 60_000);
afterAll(async () => t?.close());

const samples = (name: string) => metricSamples(t, METRICS_TOKEN, name);
const value = async (name: string, labels = "") => (await samples(name)).get(labels) ?? 0;
const clientsIn = async (state: string) =>
  (await samples("berth_frontdoor_clients")).get(`{connection_id="${id}",state="${state}"}`) ?? 0;

/** A front-door client and the bytes its socket wrote and read since sign-in (the kernel's counts). */
async function counted(o: Partial<FrontDoorClientOptions> = {}) {
  const c = frontDoorClient(t, { database: "fd-m", ...o });
  const stream = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  await c.connect();
  const written0 = stream.bytesWritten;
  const read0 = stream.bytesRead;
  return { c, bytes: () => ({ written: stream.bytesWritten - written0, read: stream.bytesRead - read0 }) };
}

describe.skipIf(!hasPostgres)("front-door metrics", () => {
  it("berth_frontdoor_sign_ins_total moves by outcome: ok, invalid_credentials, sign_in_locked, protocol", async () => {
    const before = await samples("berth_frontdoor_sign_ins_total");
    const failedBefore = await value("berth_security_events_total", '{event="sign_in_failed"}');
    const c = frontDoorClient(t, { user: "mona", password: "mona-password-0001", database: "fd-m" });
    await c.connect();
    await c.end();
    for (let i = 0; i < 2; i++)
      expect(
        (await signInFailure(t, { user: "lockme", password: `wrong-${i}`, database: "fd-m" })).code,
      ).toBe("28P01");
    expect(
      (await signInFailure(t, { user: "lockme", password: "lockme-password-01", database: "fd-m" })).code,
    ).toBe("28000");
    const raw = await RawPgSocket.open(t.berth.pgPort!);
    raw.send(startupMessage({ user: "mona", database: "fd-m" }));
    await raw.waitFor("the SASL request", (r) => authCode(r) === 10);
    raw.send(saslInitialResponse("SCRAM-SHA-256", "garbage"));
    await raw.closedWithin();

    const after = await samples("berth_frontdoor_sign_ins_total");
    const delta = (outcome: string) =>
      (after.get(`{outcome="${outcome}"}`) ?? 0) - (before.get(`{outcome="${outcome}"}`) ?? 0);
    expect({
      ok: delta("ok"),
      invalid_credentials: delta("invalid_credentials"),
      sign_in_locked: delta("sign_in_locked"),
      protocol: delta("protocol"),
    }).toEqual({ ok: 1, invalid_credentials: 2, sign_in_locked: 1, protocol: 1 });
    // The wrong passwords and the locked account are failed sign-ins (security events); the
    // garbled handshake is not.
    expect((await value("berth_security_events_total", '{event="sign_in_failed"}')) - failedBefore).toBe(3);
  });

  it("transactions, bytes in and out, and backend waits count exactly what one client did", async () => {
    const tx0 = await value("berth_frontdoor_transactions_total");
    const in0 = await value("berth_frontdoor_bytes_total", '{direction="in"}');
    const out0 = await value("berth_frontdoor_bytes_total", '{direction="out"}');
    const waits0 = await value("berth_frontdoor_backend_wait_seconds_count");
    const { c, bytes } = await counted();
    await c.query("SELECT 1");
    await c.query("SELECT 2");
    await c.query("BEGIN");
    await c.query("SELECT 3");
    await c.query("COMMIT");
    await c.query("SELECT $1::int AS n", [4]);
    await c.end();
    await until("the client to be gone", async () => (await clientsIn("idle")) === 0);
    // Four transactions (two statements, one BEGIN..COMMIT, one extended-protocol statement),
    // each with a backend taken once.
    expect((await value("berth_frontdoor_transactions_total")) - tx0).toBe(4);
    expect((await value("berth_frontdoor_backend_wait_seconds_count")) - waits0).toBe(4);
    // After sign-in, every byte the client wrote (Terminate included) and read.
    const { written, read } = bytes();
    expect(written).toBeGreaterThan(0);
    expect((await value("berth_frontdoor_bytes_total", '{direction="in"}')) - in0).toBe(written);
    expect((await value("berth_frontdoor_bytes_total", '{direction="out"}')) - out0).toBe(read);
  });

  it("a backend replayed with a client's settings is not counted as one of its transactions", async () => {
    // Two clients with different settings on one backend: each turn the other's settings are
    // replaced by an injected statement, which is Berth's, not the client's.
    const tx0 = await value("berth_frontdoor_transactions_total");
    const a = frontDoorClient(t, { database: "fd-m" });
    const b = frontDoorClient(t, { database: "fd-m" });
    (
      a as unknown as { connectionParameters: { application_name: string } }
    ).connectionParameters.application_name = "metrics-a";
    (
      b as unknown as { connectionParameters: { application_name: string } }
    ).connectionParameters.application_name = "metrics-b";
    await a.connect();
    await b.connect();
    for (let i = 0; i < 3; i++) {
      expect((await a.query("SELECT current_setting('application_name') AS n")).rows).toEqual([
        { n: "metrics-a" },
      ]);
      expect((await b.query("SELECT current_setting('application_name') AS n")).rows).toEqual([
        { n: "metrics-b" },
      ]);
    }
    await a.end();
    await b.end();
    expect((await value("berth_frontdoor_transactions_total")) - tx0).toBe(6);
  });

  it("berth_frontdoor_clients by state: idle, active, waiting; the wait shows in berth_frontdoor_backend_wait_seconds", async () => {
    const sum0 = await value("berth_frontdoor_backend_wait_seconds_sum");
    const holder = frontDoorClient(t, { database: "fd-m" });
    const waiter = frontDoorClient(t, { database: "fd-m" });
    await holder.connect();
    await waiter.connect();
    expect(await clientsIn("idle")).toBe(2);
    await holder.query("BEGIN");
    expect(await clientsIn("active")).toBe(1);
    expect(await clientsIn("idle")).toBe(1);
    const waiting = waiter.query("SELECT 1 AS one");
    await until("the second client to wait", async () => (await clientsIn("waiting")) === 1);
    const waitStarted = performance.now();
    expect(await clientsIn("active")).toBe(1);
    expect(await clientsIn("idle")).toBe(0);
    // The waiter cannot have its backend before the COMMIT is sent: a lower bound of its wait.
    const waited = (performance.now() - waitStarted) / 1000;
    await holder.query("COMMIT");
    expect((await waiting).rows).toEqual([{ one: 1 }]);
    expect(await clientsIn("waiting")).toBe(0);
    expect(await clientsIn("idle")).toBe(2);
    expect((await value("berth_frontdoor_backend_wait_seconds_sum")) - sum0).toBeGreaterThanOrEqual(waited);
    await holder.end();
    await waiter.end();
    await until("no client left", async () => {
      const s = await samples("berth_frontdoor_clients");
      return ![...s.entries()].some(([k, v]) => k.includes(id) && v > 0);
    });
  });

  it('LISTEN pins the client: berth_frontdoor_pins_total{why="LISTEN"} + 1, state pinned until it leaves', async () => {
    const pins0 = await value("berth_frontdoor_pins_total", '{why="LISTEN"}');
    const c = frontDoorClient(t, { database: "fd-m" });
    await c.connect();
    await c.query("LISTEN fd_metrics_channel");
    expect((await value("berth_frontdoor_pins_total", '{why="LISTEN"}')) - pins0).toBe(1);
    expect(await clientsIn("pinned")).toBe(1);
    expect(await clientsIn("active")).toBe(1);
    // A second LISTEN on a pinned client is no new pin.
    await c.query("LISTEN fd_metrics_other");
    expect((await value("berth_frontdoor_pins_total", '{why="LISTEN"}')) - pins0).toBe(1);
    await c.end();
    await until("the pinned client to be gone", async () => (await clientsIn("pinned")) === 0);
    expect(await clientsIn("active")).toBe(0);
  });
});
