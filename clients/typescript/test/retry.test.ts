import assert from "node:assert/strict";
import { createServer, type Http2Server } from "node:http2";
import { after, before, beforeEach, describe, it } from "node:test";
import { BerthError, createBerthClient } from "@berth/client";
import { BrokerService } from "@berth/client/gen/berth/v1/broker_service_pb";
import { ErrorInfoSchema } from "@berth/client/gen/google/rpc/error_details_pb";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/**
 * When the SDK sends a statement again, against a scripted BrokerService: only failures that prove
 * the statement never reached the database, only before any answer, never inside a session.
 */
type Script = (attempt: number) => Error | undefined;
let executeScript: Script = () => undefined;
let openScript: Script = () => undefined;
let executeCalls = 0;
let sessionStatements = 0;
let sessionCalls = 0;

function berthError(code: Code, kind: string, reason: string): ConnectError {
  return new ConnectError(`${kind}: ${reason}`, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason: kind, domain: "berth.dev", metadata: { reason } } },
  ]);
}

const result = {
  columns: { columns: [{ name: "one", typeName: "int4" }] },
  rows: { rows: [{ values: [{ kind: { case: "int64" as const, value: 1n } }] }] },
  complete: { commandTag: "SELECT", rowsReturned: 1n },
};

const broker: Partial<ServiceImpl<typeof BrokerService>> = {
  async *execute() {
    executeCalls++;
    const err = executeScript(executeCalls);
    if (err?.message.startsWith("after-first:")) {
      yield { columns: result.columns };
      throw berthError(Code.Unavailable, "unavailable", "pool_closed");
    }
    if (err) throw err;
    yield result;
  },
  async *session(requests) {
    sessionCalls++;
    for await (const r of requests) {
      if (r.request.case === "open") {
        const err = openScript(sessionCalls);
        if (err) throw err;
        yield { event: { case: "opened", value: { id: "lease-1", connectionId: "c" } } };
      } else if (r.request.case === "execute") {
        sessionStatements++;
        throw berthError(Code.Unavailable, "unavailable", "database_not_answering");
      }
    }
  },
};

let server: Http2Server;
let url: string;
before(async () => {
  server = createServer(connectNodeAdapter({ routes: (router) => router.service(BrokerService, broker) }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  executeCalls = 0;
  sessionStatements = 0;
  sessionCalls = 0;
  openScript = () => undefined;
});

const fast = { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 };
const rejectsWith = (reason: string) => (e: unknown) => e instanceof BerthError && e.reason === reason;

describe("retries", () => {
  it("send a one-shot statement again while Berth says it never reached the database", async () => {
    const client = createBerthClient({ url, retry: fast });
    executeScript = (n) =>
      n < 3 ? berthError(Code.ResourceExhausted, "pool_operation_failed", "pool_exhausted") : undefined;
    assert.equal((await client.query("c", "SELECT 1")).rows[0]!.one, 1n);
    assert.equal(executeCalls, 3);
    client.close();
  });

  it("never repeat a statement whose connection was lost while it ran (it may have run)", async () => {
    const client = createBerthClient({ url, retry: fast });
    executeScript = () => berthError(Code.Unavailable, "unavailable", "connection_lost");
    await assert.rejects(client.query("c", "UPDATE t SET n = n + 1"), rejectsWith("connection_lost"));
    assert.equal(executeCalls, 1);
    client.close();
  });

  it("never repeat a statement Berth's shutdown cut short (it may have run)", async () => {
    const client = createBerthClient({ url, retry: fast });
    executeScript = () => berthError(Code.Unavailable, "unavailable", "cancelled_by_shutdown");
    await assert.rejects(client.query("c", "UPDATE t SET n = n + 1"), rejectsWith("cancelled_by_shutdown"));
    assert.equal(executeCalls, 1);
    client.close();
  });

  it("send it again when Berth refused it because it is shutting down", async () => {
    const client = createBerthClient({ url, retry: fast });
    executeScript = (n) => (n < 2 ? berthError(Code.Unavailable, "unavailable", "shutting_down") : undefined);
    assert.equal((await client.query("c", "SELECT 1")).rows[0]!.one, 1n);
    assert.equal(executeCalls, 2);
    client.close();
  });

  it("never repeat a statement once an answer has arrived", async () => {
    const client = createBerthClient({ url, retry: fast });
    executeScript = () => new Error("after-first: fail after the columns");
    await assert.rejects(client.query("c", "SELECT 1"), rejectsWith("pool_closed"));
    assert.equal(executeCalls, 1);
    client.close();
  });

  it("never repeat a statement that was too large", async () => {
    const client = createBerthClient({ url, retry: fast });
    executeScript = () => berthError(Code.ResourceExhausted, "payload_too_large", "payload_too_large");
    await assert.rejects(
      client.query("c", "SELECT 1"),
      (e: unknown) => e instanceof BerthError && e.code === "RESOURCE_EXHAUSTED",
    );
    assert.equal(executeCalls, 1);
    client.close();
  });

  it("stop at the deadline, with the last failure", async () => {
    const client = createBerthClient({
      url,
      retry: { maxAttempts: 1000, initialDelayMs: 50, maxDelayMs: 50 },
    });
    executeScript = () => berthError(Code.ResourceExhausted, "pool_operation_failed", "pool_exhausted");
    const started = Date.now();
    await assert.rejects(
      client.query("c", "SELECT 1", [], { timeoutMs: 400 }),
      rejectsWith("pool_exhausted"),
    );
    assert.ok(Date.now() - started < 1_000);
    assert.ok(executeCalls > 1 && executeCalls < 20, `${executeCalls} attempts`);
    client.close();
  });

  it("open a session again while no pooled session could be leased", async () => {
    const client = createBerthClient({ url, retry: fast });
    openScript = (n) =>
      n < 3 ? berthError(Code.ResourceExhausted, "pool_operation_failed", "pool_exhausted") : undefined;
    assert.equal(await client.session("c", async (s) => s.leaseId), "lease-1");
    assert.equal(sessionCalls, 3);
    client.close();
  });

  it("never happen inside a session", async () => {
    const client = createBerthClient({ url, retry: fast });
    await assert.rejects(
      client.session("c", (s) => s.query("SELECT 1")),
      (e: unknown) =>
        e instanceof BerthError && e.code === "UNAVAILABLE" && e.reason === "database_not_answering",
    );
    assert.equal(sessionStatements, 1);
    assert.equal(sessionCalls, 1);
    client.close();
  });
});
