import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionStatus, Engine } from "../../src/gen/berth/v1/types_pb.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { serviceAvailable } from "../support/services.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const hasBinaries = postgresBinDir() !== undefined;
const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let client: ReturnType<typeof brokerClients>;
let pg: ThrowawayPostgres | undefined;

beforeAll(async () => {
  b = await startTestBerth({
    BERTH_CONNECT_TIMEOUT_MS: "1000",
    BERTH_HEALTH_INTERVAL_MS: "1000",
    BERTH_CANCEL_GRACE_MS: "500",
  });
  client = brokerClients(b.url, b.adminToken);
  if (hasBinaries) pg = await startThrowawayPostgres({ password: "fault-superuser-pw" });
}, 60_000);
afterAll(async () => {
  await b?.close();
  await pg?.destroy();
});

const code = (err: unknown) => ConnectError.from(err).code;

describe.skipIf(!hasBinaries)("the database restarts under load", () => {
  it("fails in-flight calls with UNAVAILABLE and serves again within 5 s of the server's return, leaking nothing", async () => {
    const { connection } = await client.connections.createConnection(
      {
        spec: {
          name: "restarting",
          type: Engine.POSTGRESQL,
          server: pg!.host,
          port: pg!.port,
          database: "postgres",
          username: "postgres",
          password: pg!.password,
          maxPoolSize: 4,
        },
      },
      client.call,
    );
    const id = connection!.id;
    const call = () =>
      collect(
        client.broker.execute(
          { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1") },
          client.call,
        ),
      );
    await call();

    const errors = new Map<string, number>();
    const successes: number[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        try {
          await call();
          successes.push(performance.now());
        } catch (err) {
          const name = Code[code(err)];
          errors.set(name, (errors.get(name) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await new Promise((r) => setTimeout(r, 300));
    await pg!.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    await pg!.start();
    const back = performance.now();
    const deadline = back + 5_000;
    while (performance.now() < deadline && !successes.some((t) => t > back))
      await new Promise((r) => setTimeout(r, 50));
    running = false;
    await Promise.all(workers);

    const firstSuccess = successes.find((t) => t > back);
    expect(firstSuccess, "a call succeeded after the restart").toBeDefined();
    expect(firstSuccess! - back).toBeLessThan(5_000);
    // Every failure was the clear one: UNAVAILABLE, nothing else.
    expect([...errors.keys()]).toEqual(["Unavailable"]);
    const pool = b.berth.dataPlane.pools.poolsOf(id)[0]!;
    expect(pool.stats()).toMatchObject({ inUse: 0, waiting: 0 });
    expect(pool.stats().size).toBeLessThanOrEqual(4);
    const serverSessions = Number(
      await pg!.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'berth'"),
    );
    expect(serverSessions).toBeLessThanOrEqual(pool.stats().size);
  }, 60_000);
});

describe.skipIf(!hasPostgres)("the network black-holes traffic", () => {
  it("times calls out within their bound, marks the connection unavailable, and recovers by itself", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
    try {
      const { connection } = await client.connections.createConnection(
        {
          spec: {
            name: "through-proxy",
            type: Engine.POSTGRESQL,
            server: "127.0.0.1",
            port: proxy.port,
            database: "test",
            username: "postgres",
            password: "",
          },
        },
        client.call,
      );
      const id = connection!.id;
      const call = (timeoutMs = 500) =>
        collect(
          client.broker.execute(
            { target: { case: "connectionId", value: id }, statement: stmt("SELECT 1", [], { timeoutMs }) },
            client.call,
          ),
        );
      await call();
      const status = async () => (await client.connections.getConnectionStatus({ id }, client.call)).health!;
      await waitFor(async () => (await status()).status === ConnectionStatus.HEALTHY, 5_000);

      proxy.setMode("blackhole");
      // On a pooled session: the statement's own timeout (500 ms) plus the cancel grace (500 ms).
      let started = performance.now();
      const onSession = await call().catch((e) => e);
      expect(code(onSession)).toBe(Code.DeadlineExceeded);
      expect(performance.now() - started).toBeLessThan(2_000);
      // Needing a new session: the connect timeout (1 s) bounds it.
      started = performance.now();
      const onConnect = await call().catch((e) => e);
      expect(code(onConnect)).toBe(Code.Unavailable);
      expect(performance.now() - started).toBeLessThan(2_500);
      await waitFor(async () => (await status()).status === ConnectionStatus.UNAVAILABLE, 5_000);

      proxy.setMode("forward");
      await waitFor(
        async () =>
          await call(2_000).then(
            () => true,
            () => false,
          ),
        8_000,
      );
      await waitFor(async () => (await status()).status === ConnectionStatus.HEALTHY, 5_000);
      expect(b.berth.dataPlane.pools.poolsOf(id)[0]!.stats()).toMatchObject({ inUse: 0, waiting: 0 });
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
