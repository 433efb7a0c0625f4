import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { brokerClients, collect, openSession, stmt } from "../support/broker-client.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { runningWithMarker } from "../support/pg-activity.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

// /metrics answers only with this token on the shared port.
const METRICS_TOKEN = "metrics-token-for-the-cancellation-test";

/**
 * A client that cancels a running statement (the console's Cancel, a Connect or gRPC client going
 * away, a Session stream torn down) stops it on the server, and Berth reports a cancelled call:
 * CANCELED, logged at info, counted apart from the errors the alerts watch, audited as cancelled.
 */
const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let client: ReturnType<typeof brokerClients>;
let connectionId = "";

beforeAll(async () => {
  if (!hasPostgres) return;
  b = await startTestBerth({
    BERTH_GRPC_PORT: "0",
    BERTH_CANCEL_GRACE_MS: "2000",
    BERTH_METRICS_TOKEN: METRICS_TOKEN,
  });
  client = brokerClients(b.url, b.adminToken);
  const { connection } = await client.connections.createConnection(
    {
      spec: {
        name: "cancel-pg",
        type: Engine.POSTGRESQL,
        server: "127.0.0.1",
        port: LOCAL.postgres.port,
        database: "test",
        username: "postgres",
        password: "",
      },
    },
    client.call,
  );
  connectionId = connection!.id;
});
afterAll(async () => b?.close());

async function metric(name: string): Promise<string> {
  const text = await (
    await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  ).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .join("\n");
}

function counterValue(lines: string): number {
  return Number(/ (\d+(?:\.\d+)?)$/.exec(lines)?.[1] ?? 0);
}

/**
 * Runs `cancel` once the marked statement runs on the server, then checks what Berth made of it:
 * the statement stopped, the log line, the metric and the audit event of that request id.
 */
async function expectCancelled(
  method: "Execute" | "Session",
  start: (sql: string, requestId: string) => { cancel: () => void; settled: Promise<unknown> },
) {
  const marker = `berth_cancel_${randomUUID().replaceAll("-", "")}`;
  const requestId = `cancel-${marker}`;
  const cancelledBefore = counterValue(await metric("berth_calls_cancelled_total"));
  const call = start(`SELECT /* ${marker} */ pg_sleep(30)`, requestId);
  await until("the statement to run on the server", async () => (await runningWithMarker(marker)) === 1);
  call.cancel();
  await call.settled;
  // The statement is stopped on the server, not left to run its 30 s.
  await until("the statement to stop", async () => (await runningWithMarker(marker)) === 0);
  const lines = await until("the request's log line", () => {
    const mine = b.logs.filter((l) => l.includes(requestId));
    return mine.some((l) => l.includes(`BrokerService/${method}`)) ? mine : undefined;
  });
  const line = JSON.parse(lines.find((l) => l.includes(`BrokerService/${method}`))!);
  expect(line).toMatchObject({ level: "info", outcome: "Canceled" });
  // Not an error-level line (the server-fault log) for it.
  expect(lines.map((l) => JSON.parse(l).level)).not.toContain("error");
  expect(counterValue(await metric("berth_calls_cancelled_total"))).toBe(cancelledBefore + 1);
  expect(await metric('berth_errors_total{kind="internal"')).toBe("");
  const events = await until("the audit event", async () => {
    const all = (await b.api("/api/audit?pageSize=1000")).body.events as Record<string, string>[];
    const mine = all.filter((e) => e.requestId === requestId);
    return mine.length > 0 ? mine : undefined;
  });
  expect(events).toEqual([
    expect.objectContaining({ action: `berth.v1.BrokerService/${method}`, outcome: "cancelled" }),
  ]);
  // The pool got its session back.
  await until(
    "the session to return",
    () => b.berth.dataPlane.pools.all().every((p) => p.stats().inUse === 0) || undefined,
  );
  expect(b.berth.dataPlane.leases.active).toBe(0);
}

describe.skipIf(!hasPostgres)("a cancelled call", () => {
  it("Connect client (HTTP/1.1, as the console) aborting Execute", async () => {
    const broker = createClient(
      BrokerService,
      createConnectTransport({ baseUrl: b.url, httpVersion: "1.1" }),
    );
    await expectCancelled("Execute", (sql, requestId) => {
      const abort = new AbortController();
      const settled = collect(
        broker.execute(
          { target: { case: "connectionId", value: connectionId }, statement: stmt(sql) },
          {
            headers: { ...client.call.headers, "x-request-id": requestId },
            signal: abort.signal,
          },
        ),
      ).catch((e) => e);
      return { cancel: () => abort.abort(), settled };
    });
  });

  it("Connect client (HTTP/2) tearing down a Session stream mid-statement", async () => {
    const c = brokerClients(b.url, b.adminToken);
    await expectCancelled("Session", (sql, requestId) => {
      const headers = { ...c.call.headers, "x-request-id": requestId };
      const s = openSession({ ...c, call: { headers } });
      s.send({ case: "open", value: { connectionId } });
      const settled = s
        .next()
        .then(() => {
          s.send({ case: "execute", value: stmt(sql) });
          return s.next();
        })
        .catch((e) => e);
      return { cancel: () => s.abort(), settled };
    });
  });

  for (const port of ["shared", "dedicated"] as const) {
    it(`grpc-js client cancelling Execute (${port} gRPC port)`, async () => {
      const address = port === "shared" ? new URL(b.url).host : `127.0.0.1:${b.berth.grpcPort}`;
      const broker = grpcJsClient(BrokerService, address);
      try {
        await expectCancelled("Execute", (sql, requestId) => {
          const call = broker.serverStream(
            "execute",
            { target: { case: "connectionId", value: connectionId }, statement: stmt(sql) },
            { authorization: `Bearer ${b.adminToken}`, "x-request-id": requestId },
          );
          const settled = new Promise<grpc.ServiceError>((resolve) => {
            call.on("data", () => {});
            call.on("error", resolve);
          });
          return {
            cancel: () => call.cancel(),
            settled: settled.then((err) => expect(err.code).toBe(1 /* CANCELLED, as the client sees it */)),
          };
        });
      } finally {
        broker.close();
      }
    });
  }
});
