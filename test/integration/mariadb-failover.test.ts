import { ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import type { Value } from "../../src/gen/berth/v1/values_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { brokerClients, collect, plain, stmt } from "../support/broker-client.js";
import {
  BERTH_PASSWORD,
  BERTH_USER,
  type MariadbCluster,
  startMariadbCluster,
} from "../support/mariadb-cluster.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { withRawStore } from "../support/test-store.js";
import { hasMariadbBinaries } from "../support/throwaway-mariadb.js";
import { until } from "../support/waits.js";

const HEALTH_INTERVAL_MS = 500;
/** How many failovers to run and time (BERTH_FAILOVER_RUNS=10 for a measurement). */
const RUNS = Number(process.env.BERTH_FAILOVER_RUNS ?? 1);

const int64 = (n: number): Value =>
  ({ $typeName: "berth.v1.Value", kind: { case: "int64", value: BigInt(n) } }) as Value;

function reasonOf(err: unknown): string {
  const e = ConnectError.from(err);
  return e.findDetails(ErrorInfoSchema)[0]?.metadata.reason ?? e.message;
}

interface HostStatus {
  port: number;
  role: string;
  status: string;
  timeline: number | null;
  replicaLagMs: number | null;
  fenced: boolean;
  writer: boolean;
}

/** A Berth client of one MariaDB connection: writes and reads that say which server answered. */
export function mariadbClient(b: TestBerth, id: string) {
  const c = brokerClients(b.url, b.adminToken);
  const run = (sql: string, intent: Intent, params: Value[] = [], consistencyToken = "") =>
    collect(
      c.broker.execute(
        {
          target: { case: "connectionId", value: id },
          statement: stmt(sql, params),
          intent,
          consistencyToken,
        },
        c.call,
      ),
    );
  return {
    run,
    /** Inserts `n`; answers the port of the server that took it and the write's token. */
    async write(n: number) {
      const r = await run("INSERT INTO writes(n) VALUES (?) RETURNING @@port", Intent.WRITE, [int64(n)]);
      return { port: Number(plain(r.rows[0]!.values[0])), token: r.complete?.consistencyToken ?? "" };
    },
    async read(n = 0, token = "") {
      const r = await run(
        "SELECT (SELECT count(*) FROM writes WHERE n = ?), @@port",
        Intent.READ,
        [int64(n)],
        token,
      );
      return { saw: Number(plain(r.rows[0]!.values[0])) === 1, port: Number(plain(r.rows[0]!.values[1])) };
    },
    async hosts(): Promise<{ noPrimary: boolean; hosts: HostStatus[] }> {
      const s = await b.api(`/api/connections/${id}/status`);
      expect(s.status, s.text).toBe(200);
      return s.body;
    },
  };
}

export async function createMariadbConnection(b: TestBerth, cluster: MariadbCluster, name: string) {
  const created = await b.api("/api/connections", {
    body: {
      name,
      type: "mysql",
      server: "127.0.0.1",
      port: cluster.primary.port,
      database: "app",
      username: BERTH_USER,
      password: BERTH_PASSWORD,
      sslMode: "disable",
      acquireTimeoutMs: 3000,
      replicas: [{ server: "127.0.0.1", port: cluster.replica.port }],
    },
  });
  expect(created.status, created.text).toBe(201);
  return created.body.id as string;
}

/**
 * A MariaDB primary and a GTID replica made in the test. Berth tells their roles from read_only and
 * the replica's status; the primary crashes under a writer loop, the replica is promoted
 * (`STOP SLAVE; SET GLOBAL read_only = 0`), and writes follow within two health intervals; the old
 * primary, back writable, became writable before the new one and is fenced.
 */
describe.skipIf(!hasMariadbBinaries())(
  "MariaDB failover: roles observed, promotion followed, old primary fenced",
  () => {
    let b: TestBerth;
    let cluster: MariadbCluster | undefined;
    const timings: number[] = [];

    beforeAll(async () => {
      b = await startTestBerth({ BERTH_HEALTH_INTERVAL_MS: String(HEALTH_INTERVAL_MS) });
    }, 90_000);
    afterEach(async () => {
      await cluster?.destroy();
      cluster = undefined;
    });
    afterAll(async () => {
      await b?.close();
      if (timings.length === 0) return;
      const v = [...timings].sort((x, y) => x - y);
      console.log(
        `MariaDB failover over ${v.length} runs (health interval ${HEALTH_INTERVAL_MS} ms), promote start -> first write on the new primary: min ${v[0]!.toFixed(0)}, median ${v[Math.floor(v.length / 2)]!.toFixed(0)}, max ${v[v.length - 1]!.toFixed(0)} ms; every run: ${timings.map((t) => t.toFixed(0)).join(", ")}`,
      );
    });

    for (let run = 1; run <= RUNS; run++)
      it(`observes roles and lag, reads your writes by GTID, follows a promotion and fences the old primary (run ${run} of ${RUNS})`, async () => {
        const c = await startMariadbCluster();
        cluster = c;
        const { primary: old, replica: promoted } = c;
        const id = await createMariadbConnection(b, c, `mariadb-failover-${run}`);
        const client = mariadbClient(b, id);
        await client.run(
          "CREATE TABLE writes (id int AUTO_INCREMENT PRIMARY KEY, n bigint NOT NULL)",
          Intent.WRITE,
        );
        const before = await until("the roles are observed", async () => {
          const s = await client.hosts();
          const replica = s.hosts.find((h) => h.port === promoted.port);
          return s.hosts.find((h) => h.writer)?.port === old.port && replica?.role === "replica" && s;
        });
        expect(before.hosts.find((h) => h.port === old.port)).toMatchObject({ role: "primary", timeline: 1 });
        expect(before.hosts.find((h) => h.port === promoted.port)).toMatchObject({
          fenced: false,
          writer: false,
        });

        // Read your writes by GTID: with the replica's applier stopped, a READ with the write's token
        // goes to the primary, one without it to the replica (which has not got the row).
        await promoted.sql("STOP SLAVE SQL_THREAD");
        const w = await client.write(1);
        expect(w.port).toBe(old.port);
        expect(w.token).toMatch(/^mysql:0-1-\d+$/);
        expect(await client.read(1, w.token)).toEqual({ saw: true, port: old.port });
        expect(await client.read(1)).toEqual({ saw: false, port: promoted.port });
        await promoted.sql("START SLAVE SQL_THREAD");
        await until("the replica serves the token once it applied the write", async () => {
          const r = await client.read(1, w.token);
          return r.port === promoted.port && r.saw;
        });

        // A writer loop; the primary crashes.
        const attempts: { n: number; startedAt: number; endedAt: number; port?: number; reason?: string }[] =
          [];
        let stopped = false;
        const loop = (async () => {
          for (let n = 100; !stopped; n++) {
            const startedAt = performance.now();
            try {
              const { port } = await client.write(n);
              attempts.push({ n, startedAt, endedAt: performance.now(), port });
            } catch (err) {
              attempts.push({ n, startedAt, endedAt: performance.now(), reason: reasonOf(err) });
            }
            await new Promise((r) => setTimeout(r, 10));
          }
        })();
        await until("the loop writes", () => attempts.some((a) => a.port === old.port));
        await c.caughtUp(promoted, old);
        await old.stop("SIGKILL");
        const stoppedAt = performance.now();
        await until("writes fail with no_primary", () => attempts.some((a) => a.reason === "no_primary"));
        expect((await client.read()).port).toBe(promoted.port);
        expect((await client.hosts()).noPrimary).toBe(true);

        const promotedAt = performance.now();
        await c.promote(promoted);
        const promoteReturnedAt = performance.now();
        const first = await until("a write lands on the promoted replica", () =>
          attempts.find((a) => a.port === promoted.port),
        );
        const failoverMs = first.endedAt - promotedAt;

        // The old primary comes back writable: it became writable before the new one, and is fenced.
        await old.start();
        const fenced = await until("the old primary is fenced", async () => {
          const h = (await client.hosts()).hosts.find((x) => x.port === old.port);
          return h?.fenced && h;
        });
        expect(fenced).toMatchObject({ role: "primary", timeline: 1, writer: false });
        // What the store keeps names hosts by slot, never by address (hosts are sealed at rest).
        const stored = await withRawStore(b.dataDir, (raw) =>
          raw.get<{ writable_since: string }>(
            "SELECT writable_since FROM connection_roles WHERE connection_id = ?",
            id,
          ),
        );
        expect(JSON.parse(stored!.writable_since)).toEqual({ server: 1, "replicas[0]": 2 });
        const count = attempts.length;
        await until("writes go on after the fencing", () => attempts.length >= count + 20);
        stopped = true;
        await loop;

        const after = await client.hosts();
        expect(after.hosts.find((h) => h.writer)).toMatchObject({
          port: promoted.port,
          role: "primary",
          timeline: 2,
        });
        const gap = attempts.filter((a) => a.startedAt > stoppedAt && a.endedAt < promotedAt);
        expect(gap.filter((a) => a.port !== undefined)).toEqual([]);
        expect(gap.filter((a) => a.reason === "no_primary").length).toBeGreaterThan(0);
        expect(
          Math.max(...gap.filter((a) => a.reason === "no_primary").map((a) => a.endedAt - a.startedAt)),
        ).toBeLessThan(500);
        expect(first.endedAt - promoteReturnedAt).toBeLessThan(2 * HEALTH_INTERVAL_MS);
        const acknowledged = attempts.filter((a) => a.port !== undefined && a.startedAt >= promotedAt);
        expect(acknowledged.every((a) => a.port === promoted.port)).toBe(true);
        const onNew = new Set((await promoted.rows("SELECT n FROM app.writes")).map((r) => Number(r.n)));
        for (const a of acknowledged) expect(onNew.has(a.n)).toBe(true);
        const lastBeforeCrash = Math.max(...attempts.filter((a) => a.startedAt < stoppedAt).map((a) => a.n));
        const [{ m }] = (await old.rows("SELECT coalesce(max(n), 0) AS m FROM app.writes")) as [
          { m: unknown },
        ];
        expect(Number(m)).toBeLessThanOrEqual(lastBeforeCrash);
        timings.push(failoverMs);

        // A pool reset forgets what was in memory; the store still has when each host became writable:
        // with the new primary down, the old one alone writable still gets nothing.
        await promoted.stop("SIGTERM");
        expect((await b.api(`/api/connections/${id}/reset`, { method: "POST" })).status).toBe(200);
        const refused = await client.write(-1).catch((err) => reasonOf(err));
        expect(refused).toBe("no_primary");
        expect((await client.hosts()).hosts.find((x) => x.port === old.port)).toMatchObject({
          fenced: true,
          timeline: 1,
        });
        // It starts as configured (a replica's read_only); the operator makes it writable again.
        await promoted.start();
        await promoted.sql("SET GLOBAL read_only = 0");
        await until("writes go to the new primary again", async () => {
          const r = await client.write(-2).catch(() => undefined);
          return r?.port === promoted.port;
        });
        expect((await old.rows("SELECT count(*) AS c FROM app.writes WHERE n IN (-1, -2)"))[0]!.c).toBe(0);

        // Rebuilt as a replica of the new primary, the old one is no longer fenced and serves reads.
        await c.follow(old, promoted);
        await until("the old primary, now following, is a replica again", async () => {
          const h = (await client.hosts()).hosts.find((x) => x.port === old.port);
          return h?.role === "replica" && !h.fenced;
        });
      }, 90_000);
  },
);

/**
 * A switchover under a health interval of a minute: the primary made read-only, then the replica
 * promoted. The first write refused with 1290 (read-only) makes Berth check the roles at once, and
 * the writes that then find no primary keep asking: writes move within a second or so of the
 * promotion, not at the next scheduled check.
 */
describe.skipIf(!hasMariadbBinaries())("MariaDB: a read-only refusal triggers a role check at once", () => {
  const LONG_INTERVAL_MS = 60_000;
  let b: TestBerth;
  let cluster: MariadbCluster;

  beforeAll(async () => {
    [b, cluster] = await Promise.all([
      startTestBerth({ BERTH_HEALTH_INTERVAL_MS: String(LONG_INTERVAL_MS) }),
      startMariadbCluster(),
    ]);
  }, 90_000);
  afterAll(async () => {
    await b?.close();
    await cluster?.destroy();
  });

  it("follows a switchover long before the next scheduled check", async () => {
    const { primary: old, replica: promoted } = cluster;
    const id = await createMariadbConnection(b, cluster, "mariadb-switchover");
    const client = mariadbClient(b, id);
    await client.run(
      "CREATE TABLE writes (id int AUTO_INCREMENT PRIMARY KEY, n bigint NOT NULL)",
      Intent.WRITE,
    );
    expect((await client.write(1)).port).toBe(old.port);
    await until("the replica is observed", async () =>
      (await client.hosts()).hosts.some((h) => h.port === promoted.port && h.role === "replica"),
    );

    await old.sql("SET GLOBAL read_only = 1");
    const readOnlyAt = performance.now();
    const refused = await client.write(2).catch((err) => ConnectError.from(err));
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).message).toMatch(/read-only|read_only/i);
    const demoted = await until("the old primary is seen read-only", async () => {
      const s = await client.hosts();
      return s.hosts.find((h) => h.port === old.port)?.role === "replica" && s;
    });
    const noticedMs = performance.now() - readOnlyAt;
    expect(demoted.noPrimary).toBe(true);

    await cluster.caughtUp(promoted, old);
    await cluster.promote(promoted);
    const promotedAt = performance.now();
    const reasons = new Set<string>();
    await until("a write lands on the promoted replica", async () => {
      try {
        return (await client.write(3)).port === promoted.port;
      } catch (err) {
        reasons.add(reasonOf(err));
        return false;
      }
    });
    const followedMs = performance.now() - promotedAt;
    expect([...reasons].every((r) => r === "no_primary")).toBe(true);
    expect(noticedMs).toBeLessThan(2_000);
    expect(followedMs).toBeLessThan(2_000);
    console.log(
      `MariaDB switchover, health interval ${LONG_INTERVAL_MS} ms: read-only noticed after ${noticedMs.toFixed(0)} ms (first refused write), writes on the new primary ${followedMs.toFixed(0)} ms after the promotion`,
    );
  }, 60_000);
});
