import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
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
const PASSWORD = "replica-lag-suite-pw";
const MAX_LAG_MS = 1000;

/**
 * Reads go to the replica with the fewest outstanding requests, and never to one whose replay lags
 * more than the connection's maxReplicaLagMs: a replica with replay paused (pg_wal_replay_pause())
 * falls behind while the primary takes writes, gets no reads past the bound, and gets them again
 * once it has caught up.
 */
describe.skipIf(!hasPostgres)("replica lag and least-outstanding reads", () => {
  let primary: ThrowawayPostgres;
  let replicas: [ThrowawayPostgres, ThrowawayPostgres];
  let b: TestBerth;
  let client: ReturnType<typeof brokerClients>;
  let id: string;

  beforeAll(async () => {
    primary = await startThrowawayPostgres({ password: PASSWORD, conf: ["wal_keep_size='128MB'"] });
    replicas = [await startThrowawayReplica(primary), await startThrowawayReplica(primary)];
    await primary.sql("CREATE TABLE ticks (id serial PRIMARY KEY, at timestamptz DEFAULT now())");
    b = await startTestBerth({ BERTH_HEALTH_INTERVAL_MS: "500" });
    client = brokerClients(b.url, b.adminToken);
    const created = await b.api("/api/connections", {
      body: {
        name: "lagging",
        type: "postgresql",
        server: "127.0.0.1",
        port: primary.port,
        database: "postgres",
        username: "postgres",
        password: PASSWORD,
        sslMode: "disable",
        maxReplicaLagMs: MAX_LAG_MS,
        replicas: replicas.map((r) => ({ server: "127.0.0.1", port: r.port })),
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.maxReplicaLagMs).toBe(MAX_LAG_MS);
    id = created.body.id;
  }, 90_000);
  afterAll(async () => {
    await b?.close();
    for (const r of replicas ?? []) await r.destroy();
    await primary?.destroy();
  });

  const readPort = async () => {
    const r = await collect(
      client.broker.execute(
        {
          target: { case: "connectionId", value: id },
          statement: stmt("SELECT inet_server_port()"),
          intent: Intent.READ,
        },
        client.call,
      ),
    );
    return Number(plain(r.rows[0]!.values[0]));
  };
  const ports = async (n: number) => {
    const seen: number[] = [];
    for (let i = 0; i < n; i++) seen.push(await readPort());
    return seen;
  };
  const hostOf = async (port: number) => {
    const s = await b.api(`/api/connections/${id}/status`);
    return (s.body.hosts as { port: number; replicaLagMs: number | null; lagging: boolean }[]).find(
      (h) => h.port === port,
    )!;
  };

  it("refuses a negative bound, and one on an engine whose lag is not measured", async () => {
    const base = { name: "x", server: "127.0.0.1", database: "d", username: "u", password: "p" };
    const negative = await b.api("/api/connections", {
      body: { ...base, type: "postgresql", maxReplicaLagMs: -5 },
    });
    expect(negative.status).toBe(400);
    const sqlserver = await b.api("/api/connections", {
      body: { ...base, name: "y", type: "sqlserver", maxReplicaLagMs: 500 },
    });
    expect(sqlserver.status).toBe(400);
    expect(sqlserver.body.details.fields.maxReplicaLagMs).toMatch(/only to PostgreSQL and MariaDB/);
  });

  it("sends reads to the replica with fewer outstanding requests", async () => {
    await readPort(); // the pools open on first use, and their checks start
    await until("both replicas are observed", async () => {
      const s = await b.api(`/api/connections/${id}/status`);
      return (
        s.body.hosts.filter(
          (h: { role: string; replicaLagMs: number | null }) =>
            h.role === "replica" && h.replicaLagMs !== null,
        ).length === 2
      );
    });
    // A READ lease holds a session on one replica: one outstanding request there.
    const { lease } = await client.broker.acquireLease(
      { connectionId: id, intent: Intent.READ },
      client.call,
    );
    const held = await collect(
      client.broker.execute(
        { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT inet_server_port()") },
        client.call,
      ),
    );
    const busy = Number(plain(held.rows[0]!.values[0]));
    const idle = replicas.map((r) => r.port).find((p) => p !== busy)!;
    expect(await ports(8)).toEqual(Array(8).fill(idle));
    await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
    // Equally idle, they take turns.
    expect(new Set(await ports(6))).toEqual(new Set(replicas.map((r) => r.port)));
  });

  it("gives a replica past maxReplicaLagMs no reads until it catches up", async () => {
    const [paused, other] = replicas;
    await paused.sql("SELECT pg_wal_replay_pause()");
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await primary.sql("INSERT INTO ticks DEFAULT VALUES");
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const lagging = await until(
        "the paused replica is seen lagging",
        async () => {
          const h = await hostOf(paused.port);
          return h.lagging && h;
        },
        15_000,
      );
      expect(lagging.replicaLagMs).toBeGreaterThan(MAX_LAG_MS);
      expect((await hostOf(other.port)).lagging).toBe(false);
      expect(await ports(10)).toEqual(Array(10).fill(other.port));
    } finally {
      await paused.sql("SELECT pg_wal_replay_resume()");
      writing = false;
      await writer;
    }
    await until("the replica caught up", async () => !(await hostOf(paused.port)).lagging, 15_000);
    expect(new Set(await ports(6))).toContain(paused.port);
  }, 40_000);
});
