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

const hasPostgres = postgresBinDir() !== undefined;
const PASSWORD = "replica-suite-pw";

/**
 * A primary and two real streaming replicas (pg_basebackup). Reads are spread over the replicas,
 * writes stay on the primary, and a replica that goes away costs no call: its reads move to the
 * other replica (or the primary) until it is back.
 */
describe.skipIf(!hasPostgres)("read replicas: load balancing and failover", () => {
  let primary: ThrowawayPostgres;
  let replicas: ThrowawayPostgres[];
  let b: TestBerth;
  let client: ReturnType<typeof brokerClients>;
  let id: string;

  beforeAll(async () => {
    // WAL kept for the base backups: a fresh cluster recycles segments while they are copied.
    primary = await startThrowawayPostgres({ password: PASSWORD, conf: ["wal_keep_size='128MB'"] });
    replicas = [await startThrowawayReplica(primary), await startThrowawayReplica(primary)];
    b = await startTestBerth({ BERTH_HEALTH_INTERVAL_MS: "500" });
    client = brokerClients(b.url, b.adminToken);
    const created = await b.api("/api/connections", {
      body: {
        name: "replicated",
        type: "postgresql",
        server: "127.0.0.1",
        port: primary.port,
        database: "postgres",
        username: "postgres",
        password: PASSWORD,
        sslMode: "disable",
        replicas: replicas.map((r) => ({ server: "127.0.0.1", port: r.port })),
      },
    });
    expect(created.status, created.text).toBe(201);
    id = created.body.id;
  }, 90_000);
  afterAll(async () => {
    await b?.close();
    for (const r of replicas ?? []) await r.destroy();
    await primary?.destroy();
  });

  /** Which server answered, and whether it is a standby. */
  const where = async (intent: Intent) => {
    const r = await collect(
      client.broker.execute(
        {
          target: { case: "connectionId", value: id },
          statement: stmt("SELECT inet_server_port(), pg_is_in_recovery()"),
          intent,
        },
        client.call,
      ),
    );
    return { port: Number(plain(r.rows[0]!.values[0])), standby: plain(r.rows[0]!.values[1]) as boolean };
  };

  it("spreads reads over the replicas and keeps writes on the primary", async () => {
    const reads = [];
    for (let i = 0; i < 10; i++) reads.push(await where(Intent.READ));
    expect(reads.every((r) => r.standby)).toBe(true);
    const ports = new Set(reads.map((r) => r.port));
    expect(ports).toEqual(new Set(replicas.map((r) => r.port)));
    for (const intent of [Intent.WRITE, Intent.UNSPECIFIED]) {
      expect(await where(intent)).toEqual({ port: primary.port, standby: false });
    }
    // A lease asked for reading lands on a replica too.
    const { lease } = await client.broker.acquireLease(
      { connectionId: id, intent: Intent.READ },
      client.call,
    );
    const onLease = await collect(
      client.broker.execute(
        { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT pg_is_in_recovery()") },
        client.call,
      ),
    );
    expect(plain(onLease.rows[0]!.values[0])).toBe(true);
    await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
    const status = await b.api(`/api/connections/${id}/status`);
    expect(status.body.hosts.map((h: { role: string }) => h.role).sort()).toEqual([
      "primary",
      "replica",
      "replica",
    ]);
  });

  it("loses a replica without a failed call, reports degraded, and uses it again when it is back", async () => {
    const [gone, other] = replicas as [ThrowawayPostgres, ThrowawayPostgres];
    await gone.stop();
    const failures: string[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      try {
        seen.add((await where(Intent.READ)).port);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    expect(failures).toEqual([]);
    expect(seen.has(gone.port)).toBe(false);
    expect(seen.has(other.port)).toBe(true);
    await expect
      .poll(async () => (await b.api(`/api/connections/${id}/status`)).body.status, { timeout: 5000 })
      .toBe("degraded");

    await gone.start();
    await expect
      .poll(async () => (await b.api(`/api/connections/${id}/status`)).body.status, { timeout: 10_000 })
      .toBe("healthy");
    const back = new Set<number>();
    for (let i = 0; i < 10; i++) back.add((await where(Intent.READ)).port);
    expect(back.has(gone.port)).toBe(true);
  }, 30_000);

  it("with every replica down, reads are served by the primary", async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    try {
      for (let i = 0; i < 5; i++)
        expect(await where(Intent.READ)).toEqual({ port: primary.port, standby: false });
    } finally {
      await Promise.all(replicas.map((r) => r.start()));
    }
  }, 30_000);
});
