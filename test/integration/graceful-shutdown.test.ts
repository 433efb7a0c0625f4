import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { collect, plain, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { requestJson, startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let connectionId: string;
let probe: pg.Client;
beforeAll(async () => {
  if (!hasPostgres) return;
  b = await startTestBerth({ BERTH_SHUTDOWN_GRACE_MS: "5000" });
  const created = await b.api("/api/connections", {
    body: {
      name: "slow",
      type: "postgresql",
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      username: LOCAL.postgres.user,
      password: "",
      sslMode: "disable",
    },
  });
  connectionId = created.body.id;
  probe = new pg.Client({
    host: LOCAL.postgres.host,
    port: LOCAL.postgres.port,
    database: LOCAL.postgres.database,
    user: LOCAL.postgres.user,
  });
  await probe.connect();
});
afterAll(async () => {
  await probe?.end();
  await b?.close();
});

/** How many of our slow statements PostgreSQL is running right now. */
async function running(tag: string): Promise<number> {
  const r = await probe.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
    [`%${tag}%`],
  );
  return r.rows[0].n;
}

describe.skipIf(!hasPostgres)("graceful shutdown on the shared port", () => {
  it("lets in-flight Execute calls (HTTP/1.1 and HTTP/2) finish within the grace period and refuses new ones", async () => {
    const headers = { authorization: `Bearer ${b.adminToken}` };
    const sql = "SELECT pg_sleep(1), 'shutdown-probe' AS tag";
    const clients = [
      createClient(BrokerService, createConnectTransport({ baseUrl: b.url, httpVersion: "1.1" })),
      createClient(BrokerService, createGrpcTransport({ baseUrl: b.url })),
    ];
    const calls = clients.map((c) =>
      collect(
        c.execute(
          { target: { case: "connectionId", value: connectionId }, statement: stmt(sql) },
          { headers },
        ),
      ),
    );
    await expect.poll(() => running("shutdown-probe"), { timeout: 5_000 }).toBe(2);
    const closing = b.berth.close();
    // New calls are refused once the close has begun.
    await expect(requestJson(`${b.url}/healthz`, { method: "GET", headers: {} })).rejects.toThrow();
    const results = await Promise.all(calls);
    for (const r of results) expect(plain(r.rows[0]?.values[1])).toBe("shutdown-probe");
    await closing;
  });
});

describe.skipIf(!hasPostgres)("a statement still running when the grace period ends", () => {
  it("fails with UNAVAILABLE (cancelled_by_shutdown), not as if its caller had cancelled it", async () => {
    const short = await startTestBerth({ BERTH_SHUTDOWN_GRACE_MS: "1000" });
    const created = await short.api("/api/connections", {
      body: {
        name: "cut-short",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: "",
        sslMode: "disable",
      },
    });
    const client = createClient(BrokerService, createGrpcTransport({ baseUrl: short.url }));
    const call = collect(
      client.execute(
        {
          target: { case: "connectionId", value: created.body.id },
          statement: stmt("SELECT pg_sleep(30), 'cut-by-shutdown' AS tag"),
        },
        { headers: { authorization: `Bearer ${short.adminToken}` } },
      ),
    );
    await expect.poll(() => running("cut-by-shutdown"), { timeout: 5_000 }).toBe(1);
    const closing = short.berth.close();
    const err = await call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.findDetails(ErrorInfoSchema)[0]?.metadata.reason).toBe("cancelled_by_shutdown");
    await closing;
    await expect.poll(() => running("cut-by-shutdown"), { timeout: 5_000 }).toBe(0);
  });
});
