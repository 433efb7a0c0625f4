import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionStatus, Engine } from "../../src/gen/berth/v1/types_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { brokerClients, collect, openSession, stmt } from "../support/broker-client.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

/*
 * The database is black-holed: the PostgreSQL server and every one of its processes are stopped
 * (SIGSTOP). The kernel still accepts TCP connections into the listen backlog, so opens hang
 * without an error, which is what a frozen host or a dropped route looks like to Berth. Callers
 * must hear UNAVAILABLE database_not_answering within their acquire bound, the status must say
 * the database is not answering, and everything must come back after SIGCONT without a restart.
 */

const hasBinaries = postgresBinDir() !== undefined;
const ACQUIRE_TIMEOUT_MS = 1_500;
// Longer than the acquire bound (as the 5 s default is longer than many): an open that hangs must
// not keep its caller past that bound.
const CONNECT_TIMEOUT_MS = 3_000;
// The gRPC round trip and scheduling on a loaded machine (a call's own overhead reached 650 ms
// there): less than the wait for a hung open it must not hide.
const SLACK_MS = 1_000;

let b: TestBerth;
let client: ReturnType<typeof brokerClients>;
let pg: ThrowawayPostgres | undefined;
let stopped: number[] = [];

beforeAll(async () => {
  b = await startTestBerth({ BERTH_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) });
  client = brokerClients(b.url, b.adminToken);
  if (hasBinaries) pg = await startThrowawayPostgres({ password: "blackhole-superuser-pw" });
}, 60_000);
afterAll(async () => {
  resume();
  await b?.close();
  await pg?.destroy();
});

/** The postmaster (first line of postmaster.pid) and all its children: the whole server. */
function serverPids(dir: string): number[] {
  const postmaster = Number(readFileSync(join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  return [postmaster, ...children];
}

function freeze(dir: string): void {
  stopped = serverPids(dir);
  for (const pid of stopped) process.kill(pid, "SIGSTOP");
}

function resume(): void {
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // Gone already: nothing to resume.
    }
  }
}

interface Outcome {
  what: string;
  ms: number;
  code: Code | "ok";
  reason: string | undefined;
  message: string;
}

/** Runs a call and records how it ended and how long it took. */
async function timed(what: string, call: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  try {
    await call();
    return { what, ms: performance.now() - started, code: "ok", reason: undefined, message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    const reason = e.findDetails(ErrorInfoSchema)[0]?.metadata.reason;
    return { what, ms: performance.now() - started, code: e.code, reason, message: e.rawMessage };
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe.skipIf(!hasBinaries)("a black-holed database (SIGSTOP) under load", () => {
  it("every call ends within its bound with UNAVAILABLE database_not_answering, the status says why, and all recovers after SIGCONT", async () => {
    const { connection } = await client.connections.createConnection(
      {
        spec: {
          name: "black-holed",
          type: Engine.POSTGRESQL,
          server: pg!.host,
          port: pg!.port,
          database: "postgres",
          username: "postgres",
          password: pg!.password,
          maxPoolSize: 5,
          minPoolSize: 0,
          acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
          idleTimeoutMs: 1_000,
        },
      },
      client.call,
    );
    const id = connection!.id;
    const execute = () =>
      collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") },
          client.call,
        ),
      );
    const status = async () => (await client.connections.getConnectionStatus({ id }, client.call)).health!;

    await execute();
    await waitFor(async () => (await status()).status === ConnectionStatus.HEALTHY, 10_000, "healthy");
    // Sessions already open are bounded by their statement timeout (faults.test.ts): this is about
    // the sessions that must be opened, so the idle one is let go first.
    await waitFor(async () => (await status()).pool?.size === 0, 10_000, "idle session closed");

    freeze(pg!.dir);
    const frozenAt = performance.now();
    const calls: Promise<Outcome>[] = [];
    for (let i = 0; i < 16; i++) calls.push(timed("Execute", execute));
    for (let i = 0; i < 2; i++)
      calls.push(timed("AcquireLease", () => client.broker.acquireLease({ connectionId: id }, client.call)));
    for (let i = 0; i < 2; i++) {
      calls.push(
        timed("Session open", async () => {
          const s = openSession(client);
          s.send({ case: "open", value: { connectionId: id } });
          try {
            await s.next();
          } finally {
            s.abort();
          }
        }),
      );
    }

    // While they wait, the status shows the slots held by opens in flight, none in use.
    await waitFor(
      async () => {
        const pool = (await status()).pool;
        return pool?.opening === 5 && pool.inUse === 0 && pool.waiting > 0;
      },
      ACQUIRE_TIMEOUT_MS,
      "opens in flight in the status",
    );

    // Marked unavailable about a connect timeout after the first open, whatever the check interval
    // (10 s by default): the failed opens say so, not the next scheduled check.
    let unavailableAfter = Number.POSITIVE_INFINITY;
    const marked = waitFor(
      async () => (await status()).status === ConnectionStatus.UNAVAILABLE,
      CONNECT_TIMEOUT_MS + 2 * SLACK_MS,
      "unavailable",
    ).then(() => {
      unavailableAfter = performance.now() - frozenAt;
    });
    const outcomes = await Promise.all(calls);
    for (const o of outcomes) {
      expect(o, `${o.what}: ${o.message}`).toMatchObject({
        code: Code.Unavailable,
        reason: "database_not_answering",
      });
      expect(o.message).toMatch(/is not answering/);
      expect(o.ms, `${o.what} took ${Math.round(o.ms)} ms`).toBeLessThan(ACQUIRE_TIMEOUT_MS + SLACK_MS);
    }

    await marked;
    expect(unavailableAfter).toBeLessThan(CONNECT_TIMEOUT_MS + SLACK_MS);
    const unavailable = await status();
    expect(unavailable.status).toBe(ConnectionStatus.UNAVAILABLE);
    expect(unavailable.hosts[0]).toMatchObject({
      status: ConnectionStatus.UNAVAILABLE,
      lastErrorReason: "database_not_answering",
    });

    resume();
    const back = await waitFor(
      async () => (await timed("Execute", execute)).code === "ok",
      5_000,
      "a call succeeds after SIGCONT",
    );
    expect(back).toBeLessThan(5_000);
    await waitFor(async () => (await status()).status === ConnectionStatus.HEALTHY, 5_000, "healthy again");
    const after = await Promise.all(Array.from({ length: 10 }, () => timed("Execute", execute)));
    expect(after.map((o) => o.code)).toEqual(Array(10).fill("ok"));
    expect((await status()).pool).toMatchObject({ inUse: 0, waiting: 0, opening: 0 });
  }, 60_000);
});
