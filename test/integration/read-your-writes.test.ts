import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Intent } from "../../src/gen/berth/v1/broker_service_pb.js";
import type { Value } from "../../src/gen/berth/v1/values_pb.js";
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
const PASSWORD = "read-your-writes-pw";
/** Replay held back on both replicas: a read right after a write would not see it there. */
const APPLY_DELAY_MS = 150;
const ITERATIONS = 1000;

const int64 = (n: number): Value =>
  ({ $typeName: "berth.v1.Value", kind: { case: "int64", value: BigInt(n) } }) as Value;

/**
 * A write's completion carries a consistency token; a READ that presents it is served by a replica
 * that has replayed that write, or by the primary — so it always sees the write, while READs
 * without it may go to a replica that has not replayed it yet (replay delayed on purpose here).
 */
describe.skipIf(!hasPostgres)("read your writes: consistency tokens", () => {
  let primary: ThrowawayPostgres;
  let replicas: ThrowawayPostgres[];
  let b: TestBerth;
  let client: ReturnType<typeof brokerClients>;
  let id: string;

  beforeAll(async () => {
    primary = await startThrowawayPostgres({ password: PASSWORD, conf: ["wal_keep_size='128MB'"] });
    replicas = [await startThrowawayReplica(primary), await startThrowawayReplica(primary)];
    for (const r of replicas) {
      await r.sql(`ALTER SYSTEM SET recovery_min_apply_delay = '${APPLY_DELAY_MS}ms'`);
      await r.sql("SELECT pg_reload_conf()");
    }
    b = await startTestBerth({ BERTH_HEALTH_INTERVAL_MS: "500" });
    client = brokerClients(b.url, b.adminToken);
    const created = await b.api("/api/connections", {
      body: {
        name: "ryw",
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
    await run("CREATE TABLE seen (n bigint PRIMARY KEY)", Intent.WRITE);
  }, 90_000);
  afterAll(async () => {
    await b?.close();
    for (const r of replicas ?? []) await r.destroy();
    await primary?.destroy();
  });

  async function run(sql: string, intent: Intent, params: Value[] = [], consistencyToken = "") {
    return collect(
      client.broker.execute(
        {
          target: { case: "connectionId", value: id },
          statement: stmt(sql, params),
          intent,
          consistencyToken,
        },
        client.call,
      ),
    );
  }
  const write = async (n: number) => {
    const r = await run("INSERT INTO seen VALUES ($1)", Intent.WRITE, [int64(n)]);
    return r.complete!.consistencyToken;
  };
  /** Whether the READ saw row n, and which server answered. */
  const read = async (n: number, token = "") => {
    const r = await run(
      "SELECT count(*) = 1, inet_server_port() FROM seen WHERE n = $1",
      Intent.READ,
      [int64(n)],
      token,
    );
    return { saw: plain(r.rows[0]!.values[0]) as boolean, port: Number(plain(r.rows[0]!.values[1])) };
  };

  it(`a READ with the write's token sees it, ${ITERATIONS} times over; without it, it may not`, async () => {
    const misses: number[] = [];
    const servedBy = new Map<number, number>();
    for (let n = 1; n <= ITERATIONS; n++) {
      const token = await write(n);
      expect(token).toMatch(/^postgresql:[0-9A-F]+\/[0-9A-F]+$/);
      const r = await read(n, token);
      if (!r.saw) misses.push(n);
      servedBy.set(r.port, (servedBy.get(r.port) ?? 0) + 1);
    }
    expect(misses).toEqual([]);
    // Without the token the replicas answer, before they replayed the write.
    let stale = 0;
    for (let n = ITERATIONS + 1; n <= ITERATIONS + 50; n++) {
      await write(n);
      const r = await read(n);
      expect(replicas.map((x) => x.port)).toContain(r.port);
      if (!r.saw) stale++;
    }
    expect(stale).toBeGreaterThan(0);
    console.log(
      `read-your-writes: ${ITERATIONS} token reads, 0 missed; served by ${[...servedBy]
        .map(([port, count]) => `${port === primary.port ? "primary" : `replica ${port}`}: ${count}`)
        .join(", ")}; without a token ${stale} of 50 reads were stale`,
    );
  }, 120_000);

  it("serves a token a replica has replayed from that replica", async () => {
    const token = await write(-1);
    await new Promise((r) => setTimeout(r, APPLY_DELAY_MS)); // the delay under test, not a wait for a condition
    const r = await until("a replica has replayed the write", async () => {
      const x = await read(-1, token);
      return x.port !== primary.port && x;
    });
    expect(r.saw).toBe(true);
  });

  it("gives a token on a lease's commit", async () => {
    const { lease } = await client.broker.acquireLease({ connectionId: id }, client.call);
    await client.broker.begin({ leaseId: lease!.id }, client.call);
    await collect(
      client.broker.execute(
        { target: { case: "leaseId", value: lease!.id }, statement: stmt("INSERT INTO seen VALUES (-2)") },
        client.call,
      ),
    );
    const { consistencyToken } = await client.broker.commit({ leaseId: lease!.id }, client.call);
    await client.broker.releaseLease({ leaseId: lease!.id }, client.call);
    expect(consistencyToken).not.toBe("");
    expect((await read(-2, consistencyToken)).saw).toBe(true);
  });

  it("refuses a token it did not give", async () => {
    const err = await read(1, "postgresql:not-a-position").catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).message).toMatch(/consistencyToken/);
  });
});
