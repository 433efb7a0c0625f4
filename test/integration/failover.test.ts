import { ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import type { Value } from "../../src/gen/berth/v1/values_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { brokerClients, collect, plain, stmt } from "../support/broker-client.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  startThrowawayReplica,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";
import { until } from "../support/waits.js";

const hasPostgres = postgresBinDir() !== undefined;
const PASSWORD = "failover-suite-pw";
const HEALTH_INTERVAL_MS = 500;
/** How many failovers to run and time (BERTH_FAILOVER_RUNS=10 for a measurement). */
const RUNS = Number(process.env.BERTH_FAILOVER_RUNS ?? 1);
// /metrics answers only with this token on the shared port.
const METRICS_TOKEN = "metrics-token-for-the-failover-test";

const int64 = (n: number): Value =>
  ({ $typeName: "berth.v1.Value", kind: { case: "int64", value: BigInt(n) } }) as Value;

interface Cluster {
  primary: ThrowawayPostgres;
  replicas: [ThrowawayPostgres, ThrowawayPostgres];
  destroy(): Promise<void>;
}

async function startCluster(): Promise<Cluster> {
  // WAL kept for the base backups: a fresh cluster recycles segments while they are copied.
  const primary = await startThrowawayPostgres({ password: PASSWORD, conf: ["wal_keep_size='128MB'"] });
  const replicas: [ThrowawayPostgres, ThrowawayPostgres] = [
    await startThrowawayReplica(primary),
    await startThrowawayReplica(primary),
  ];
  return {
    primary,
    replicas,
    async destroy() {
      for (const s of [primary, ...replicas]) await s.destroy();
    },
  };
}

/** The reason Berth gave for a failed call (ErrorInfo's metadata). */
function reasonOf(err: unknown): string {
  const e = ConnectError.from(err);
  return e.findDetails(ErrorInfoSchema)[0]?.metadata.reason ?? e.message;
}

/** A Berth client bound to one connection: a write that says where it landed, a read likewise. */
function clientOf(b: TestBerth, id: string) {
  const c = brokerClients(b.url, b.adminToken);
  const run = async (sql: string, intent: Intent, params: Value[] = []) => {
    const r = await collect(
      c.broker.execute(
        { target: { case: "connectionId", value: id }, statement: stmt(sql, params), intent },
        c.call,
      ),
    );
    return Number(plain(r.rows[0]!.values[0]));
  };
  return {
    c,
    /** Inserts `n`; answers the port of the server that acknowledged it. */
    write: (n: number) =>
      run("INSERT INTO writes(n) VALUES ($1) RETURNING inet_server_port()", Intent.WRITE, [int64(n)]),
    read: () => run("SELECT inet_server_port()", Intent.READ),
  };
}

async function createConnection(b: TestBerth, cluster: Cluster, extra: Record<string, unknown> = {}) {
  const created = await b.api("/api/connections", {
    body: {
      name: `failover-${Math.random().toString(36).slice(2, 8)}`,
      type: "postgresql",
      server: "127.0.0.1",
      port: cluster.primary.port,
      database: "postgres",
      username: "postgres",
      password: PASSWORD,
      sslMode: "disable",
      acquireTimeoutMs: 3000,
      replicas: cluster.replicas.map((r) => ({ server: "127.0.0.1", port: r.port })),
      ...extra,
    },
  });
  expect(created.status, created.text).toBe(201);
  return created.body.id as string;
}

interface HostStatus {
  port: number;
  role: string;
  configuredRole: string;
  slot: string;
  status: string;
  timeline: number | null;
  replicaLagMs: number | null;
  lagging: boolean;
  fenced: boolean;
  writer: boolean;
  roleChangedAt: string | null;
}

async function hostsOf(b: TestBerth, id: string): Promise<{ noPrimary: boolean; hosts: HostStatus[] }> {
  const s = await b.api(`/api/connections/${id}/status`);
  expect(s.status, s.text).toBe(200);
  return s.body;
}

interface Attempt {
  n: number;
  startedAt: number;
  endedAt: number;
  port?: number;
  reason?: string;
}

/** Writes 1, 2, 3... through Berth one after another until stopped, recording each outcome. */
function writerLoop(write: (n: number) => Promise<number>) {
  const attempts: Attempt[] = [];
  let stopped = false;
  const done = (async () => {
    for (let n = 1; !stopped; n++) {
      const startedAt = performance.now();
      try {
        const port = await write(n);
        attempts.push({ n, startedAt, endedAt: performance.now(), port });
      } catch (err) {
        attempts.push({ n, startedAt, endedAt: performance.now(), reason: reasonOf(err) });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    attempts,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/**
 * A primary and two streaming replicas made in the test (pg_basebackup). The primary crashes
 * (`pg_ctl stop -m immediate`) under a writer loop through Berth's API, a replica is promoted
 * (`pg_ctl promote`), and Berth must follow: writes fail at once with no_primary in the gap and
 * land on the new primary within two health intervals of the promotion; the old primary, started
 * again as a primary on its old timeline, is fenced and gets nothing.
 */
describe.skipIf(!hasPostgres)("failover: following a promotion, fencing the old primary", () => {
  let b: TestBerth;
  const timings: { failoverMs: number; gapFailures: number; slowestGapFailureMs: number }[] = [];
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    b = await startTestBerth({
      BERTH_HEALTH_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
      BERTH_METRICS_TOKEN: METRICS_TOKEN,
    });
  });
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });
  afterAll(async () => {
    await b?.close();
    if (timings.length > 0) {
      const ms = timings.map((t) => t.failoverMs).sort((x, y) => x - y);
      console.log(
        `failover (promotion -> first write acknowledged by the new primary) over ${ms.length} runs: ` +
          `min ${ms[0]!.toFixed(0)} ms, median ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms, ` +
          `max ${ms[ms.length - 1]!.toFixed(0)} ms; every run: ${ms.map((x) => x.toFixed(0)).join(", ")}`,
      );
    }
  });

  for (let run = 1; run <= RUNS; run++) {
    it(`follows the promoted replica and fences the old primary (run ${run} of ${RUNS})`, async () => {
      cluster = await startCluster();
      const { primary: old, replicas } = cluster;
      const [promoted, other] = replicas;
      const id = await createConnection(b, cluster);
      const client = clientOf(b, id);
      await collect(
        client.c.broker.execute(
          {
            target: { case: "connectionId", value: id },
            statement: stmt("CREATE TABLE writes (id serial PRIMARY KEY, n bigint NOT NULL)"),
          },
          client.c.call,
        ),
      );
      const before = await until("the primary is observed and takes writes", async () => {
        const s = await hostsOf(b, id);
        const w = s.hosts.find((h) => h.writer);
        return w?.port === old.port && s.hosts.filter((h) => h.role === "replica").length === 2 && s;
      });
      expect(before.hosts.find((h) => h.writer)).toMatchObject({
        role: "primary",
        timeline: 1,
        fenced: false,
      });
      expect(await client.write(0)).toBe(old.port);

      const loop = writerLoop(client.write);
      await until("the loop writes", () => loop.attempts.some((a) => a.port === old.port));
      await old.stop("immediate");
      const stoppedAt = performance.now();
      await until("writes fail with no_primary", () => loop.attempts.some((a) => a.reason === "no_primary"));
      // Reads keep going to the replicas while there is no primary.
      for (let i = 0; i < 4; i++) expect([promoted.port, other.port]).toContain(await client.read());
      expect((await hostsOf(b, id)).noPrimary).toBe(true);

      await promoted.promote();
      const promotedAt = performance.now();
      const first = await until(
        "a write lands on the promoted replica",
        () => loop.attempts.find((a) => a.port === promoted.port),
        10_000,
      );
      const failoverMs = first.endedAt - promotedAt;

      // The old primary comes back as a primary on its old timeline: fenced, and given nothing.
      await old.start();
      const fenced = await until("the old primary is fenced", async () => {
        const h = (await hostsOf(b, id)).hosts.find((x) => x.port === old.port);
        return h?.fenced && h;
      });
      expect(fenced).toMatchObject({ role: "primary", timeline: 1, writer: false });
      const writesAfterFence = loop.attempts.length;
      await until("writes go on after the fencing", () => loop.attempts.length >= writesAfterFence + 20);
      for (let i = 0; i < 10; i++) expect(await client.read()).not.toBe(old.port);
      await loop.stop();

      const after = await hostsOf(b, id);
      expect(after.noPrimary).toBe(false);
      expect(after.hosts.find((h) => h.writer)).toMatchObject({
        port: promoted.port,
        role: "primary",
        configuredRole: "replica",
        timeline: 2,
        fenced: false,
      });
      expect(after.hosts.find((h) => h.writer)?.roleChangedAt).not.toBeNull();

      // In the gap, writes failed fast with no_primary (not a timeout each), or on the dying host.
      const gap = loop.attempts.filter((a) => a.startedAt > stoppedAt && a.endedAt < promotedAt);
      const gapFailures = gap.filter((a) => a.reason === "no_primary");
      expect(gap.every((a) => a.port === undefined)).toBe(true);
      expect(gapFailures.length).toBeGreaterThan(0);
      const slowestGapFailureMs = Math.max(...gapFailures.map((a) => a.endedAt - a.startedAt));
      expect(slowestGapFailureMs).toBeLessThan(500);
      expect(failoverMs).toBeLessThan(2 * HEALTH_INTERVAL_MS);

      // Every write acknowledged after the promotion is on the new primary, none on the old one.
      const acknowledged = loop.attempts.filter((a) => a.port !== undefined && a.startedAt >= promotedAt);
      expect(acknowledged.every((a) => a.port === promoted.port)).toBe(true);
      const onNew = new Set((await promoted.sql("SELECT n FROM writes")).split("\n").map(Number));
      for (const a of acknowledged) expect(onNew.has(a.n)).toBe(true);
      const onOld = (await old.sql("SELECT coalesce(max(n), 0) FROM writes")).trim();
      const lastBeforeCrash = Math.max(
        0,
        ...loop.attempts.filter((a) => a.port === old.port).map((a) => a.n),
      );
      expect(Number(onOld)).toBeLessThanOrEqual(lastBeforeCrash);

      // The role changes and the fencing are in the audit log (hosts named by their place) and the metrics.
      const events = (await b.api(`/api/audit?connectionId=${id}&pageSize=1000`)).body.events as {
        action: string;
        reason: string;
        outcome: string;
      }[];
      expect(events.filter((e) => e.action === "host.role_changed").map((e) => e.reason)).toContain(
        "replicas[0]: replica -> primary (timeline 2)",
      );
      expect(events.find((e) => e.action === "host.fenced")).toMatchObject({
        reason: "server: takes writes on timeline 1, another host was promoted past it",
        outcome: "failed",
      });
      const metrics = await (
        await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      ).text();
      expect(metrics).toContain(`berth_host_fenced{connection_id="${id}",slot="server"} 1`);
      expect(metrics).toContain(`berth_connection_no_primary{connection_id="${id}"} 0`);

      // What Berth remembers can be lost (a restart, a pool reset): the timelines decide alone then.
      expect((await b.api(`/api/connections/${id}/reset`, { method: "POST" })).status).toBe(200);
      expect(await client.write(-1)).toBe(promoted.port);
      await until("the old primary is fenced again", async () => {
        const h = (await hostsOf(b, id)).hosts.find((x) => x.port === old.port);
        return h?.fenced;
      });
      // With the new primary gone too, the old one still gets nothing: it was left behind.
      await promoted.stop("immediate");
      const reasons = new Set<string>();
      await until("writes fail with no_primary", async () => {
        try {
          reasons.add(`port ${await client.write(-2)}`);
        } catch (err) {
          reasons.add(reasonOf(err));
        }
        return reasons.has("no_primary");
      });
      expect([...reasons].filter((r) => r.startsWith("port"))).toEqual([]);
      expect(Number(await old.sql("SELECT count(*) FROM writes WHERE n < 0"))).toBe(0);

      timings.push({ failoverMs, gapFailures: gapFailures.length, slowestGapFailureMs });
    }, 60_000);
  }
});
