import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { brokerClients, collect, openSession, stmt } from "../support/broker-client.js";
import { runningWithMarker } from "../support/pg-activity.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * The lease manager knows every open lease and Session stream with its principal and connection:
 * `endWhere` ends the chosen ones (what revoking access will call), and no lease outlives
 * BERTH_LEASE_MAX_LIFETIME_MS however often it is renewed.
 */
const hasPostgres = await serviceAvailable("postgres");
const LIFETIME_MS = 1_500;

interface Setup {
  b: TestBerth;
  client: ReturnType<typeof brokerClients>;
  ids: string[];
}

async function setup(env: Record<string, string>): Promise<Setup> {
  const b = await startTestBerth(env);
  const client = brokerClients(b.url, b.adminToken);
  const ids: string[] = [];
  for (const name of ["ending-a", "ending-b"]) {
    const { connection } = await client.connections.createConnection({ spec: spec(name) }, client.call);
    ids.push(connection!.id);
  }
  return { b, client, ids };
}

const spec = (name: string) => ({
  name,
  type: Engine.POSTGRESQL,
  server: "127.0.0.1",
  port: LOCAL.postgres.port,
  database: "test",
  username: "postgres",
  password: "",
});

// One Berth with the default lifetime (for endWhere), one whose leases live LIFETIME_MS.
let plain: Setup;
let short: Setup;
// The Berth the current test talks to.
let b: TestBerth;
let client: ReturnType<typeof brokerClients>;
let ids: string[];
const use = (s: Setup) => {
  ({ b, client, ids } = s);
};

beforeAll(async () => {
  if (!hasPostgres) return;
  [plain, short] = await Promise.all([
    setup({}),
    setup({ BERTH_LEASE_MAX_LIFETIME_MS: String(LIFETIME_MS) }),
  ]);
});
afterAll(async () => Promise.all([plain?.b.close(), short?.b.close()]));

const failure = async (p: Promise<unknown>) =>
  ConnectError.from(
    await p.then(
      () => new Error("no error"),
      (e) => e,
    ),
  );
const reasonOf = (e: ConnectError) => e.findDetails(ErrorInfoSchema)[0]?.metadata.reason;
const pooledInUse = () => b.berth.dataPlane.pools.all().reduce((n, p) => n + p.stats().inUse, 0);

describe.skipIf(!hasPostgres)("ending leases", () => {
  it("endWhere ends the chosen Session stream (mid-statement) and lease, and no other", async () => {
    use(plain);
    const leases = b.berth.dataPlane.leases;
    const marker = `berth_end_${randomUUID().replaceAll("-", "")}`;
    // On connection A: a Session stream running a long statement, and a lease inside a transaction.
    const s = openSession(client);
    s.send({ case: "open", value: { connectionId: ids[0]! } });
    await s.next();
    s.send({ case: "execute", value: stmt(`SELECT /* ${marker} */ pg_sleep(30)`) });
    const streamEnd = failure(s.result());
    const { lease } = await client.broker.acquireLease({ connectionId: ids[0]! }, client.call);
    await client.broker.begin({ leaseId: lease!.id }, client.call);
    // On connection B: a lease that must survive.
    const { lease: other } = await client.broker.acquireLease({ connectionId: ids[1]! }, client.call);
    await until("the statement to run", async () => (await runningWithMarker(marker)) === 1);
    expect(leases.list().map((l) => [l.kind, l.connectionId])).toEqual(
      expect.arrayContaining([
        ["stream", ids[0]],
        ["lease", ids[0]],
        ["lease", ids[1]],
      ]),
    );
    expect(leases.list().every((l) => l.principal.username === "admin")).toBe(true);

    const started = Date.now();
    expect(await leases.endWhere((l) => l.connectionId === ids[0], "revoked")).toBe(2);
    expect(Date.now() - started).toBeLessThan(1_000);
    // The stream fails with the reason, the statement is stopped, and the slots are free.
    const err = await streamEnd;
    expect(err.code).toBe(Code.PermissionDenied);
    expect(reasonOf(err)).toBe("access_revoked");
    await until("the statement to stop", async () => (await runningWithMarker(marker)) === 0);
    const ended = await failure(
      collect(
        client.broker.execute(
          { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT 1") },
          client.call,
        ),
      ),
    );
    expect(ended.code).toBe(Code.NotFound);
    expect(leases.list().map((l) => l.id)).toEqual([other!.id]);
    expect(pooledInUse()).toBe(1);
    // The other lease still works; the events say why the two ended.
    const r = await collect(
      client.broker.execute(
        { target: { case: "leaseId", value: other!.id }, statement: stmt("SELECT 1 AS one") },
        client.call,
      ),
    );
    expect(r.rows).toHaveLength(1);
    await client.broker.releaseLease({ leaseId: other!.id }, client.call);
    const events = (await b.api("/api/audit?pageSize=1000")).body.events as Record<string, string>[];
    expect(events.filter((e) => e.action === "lease.end" && e.reason === "revoked")).toHaveLength(2);
    await until("every session to return", () => pooledInUse() === 0 || undefined);
  });

  it("a lease cannot be renewed past its maximum lifetime", async () => {
    use(short);
    const opened = Date.now();
    const { lease } = await client.broker.acquireLease(
      { connectionId: ids[0]!, idleTtlMs: 60_000 },
      client.call,
    );
    const latest = opened + LIFETIME_MS + 200;
    expect(Number(lease!.expiresAt!.seconds) * 1000).toBeLessThanOrEqual(latest);
    // Renewing keeps it alive only until the lifetime is up; then it is gone and its slot free.
    const err = await until("the lease to end", async () => {
      const renewed = await client.broker
        .renewLease({ leaseId: lease!.id }, client.call)
        .catch((e) => ConnectError.from(e));
      if (renewed instanceof ConnectError) return renewed;
      expect(Number(renewed.lease!.expiresAt!.seconds) * 1000).toBeLessThanOrEqual(latest);
      return undefined;
    });
    expect(err.code).toBe(Code.NotFound);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(LIFETIME_MS - 100);
    await until("the session to return", () => pooledInUse() === 0 || undefined);
  });

  it("a busy Session stream is ended at its maximum lifetime with lease_max_lifetime", async () => {
    use(short);
    const s = openSession(client);
    s.send({ case: "open", value: { connectionId: ids[1]! } });
    await s.next();
    s.send({ case: "execute", value: stmt("SELECT pg_sleep(30)") });
    const err = await failure(s.result());
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(reasonOf(err)).toBe("lease_max_lifetime");
    await until("the session to return", () => pooledInUse() === 0 || undefined);
    expect(b.berth.dataPlane.leases.active).toBe(0);
  });
});
