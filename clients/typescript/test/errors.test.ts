import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type BerthClient, BerthError, createBerthClient } from "@berth/client";
import { ConnectionService } from "@berth/client/gen/berth/v1/connection_service_pb";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";

/** One error class, with everything Berth said decoded: no base64 and no details for the caller to unpack. */
let berth: RunningBerth;
let client: BerthClient;
let token: string;
let pgId: string;
let myId: string;

before(async () => {
  berth = await startBerth();
  pgId = await createConnection(berth, "postgresql");
  myId = await createConnection(berth, "mysql");
  token = await createServiceToken(berth, [pgId, myId]);
  client = createBerthClient({ url: berth.grpcUrl, token });
});

after(async () => {
  client?.close();
  await berth?.dispose();
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("the call succeeded"),
    (e: unknown) => {
      assert.ok(e instanceof BerthError, `not a BerthError: ${String(e)}`);
      return e;
    },
  );

describe("BerthError", () => {
  it("carries the database's SQLSTATE, Berth's reason and the request id", async () => {
    const err = await failure(client.query(pgId, "SELECT * FROM no_such_table_for_the_sdk"));
    assert.equal(err.code, "FAILED_PRECONDITION");
    assert.equal(err.kind, "query_failed");
    assert.equal(err.engineCode, "42P01");
    assert.match(err.message, /no_such_table_for_the_sdk/);
    assert.ok(err.requestId, "the request id is there to quote");
    assert.equal(err.details.error_code, "42P01");
  });

  it("carries MariaDB's errno", async () => {
    const err = await failure(client.query(myId, "SELECT * FROM no_such_table_for_the_sdk"));
    assert.equal(err.code, "FAILED_PRECONDITION");
    assert.equal(err.engineCode, "1146");
  });

  it("says which field was wrong", async () => {
    const err = await failure(client.query(pgId, "   "));
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.kind, "validation_failed");
    assert.deepEqual(
      err.fieldViolations.map((v) => v.field),
      ["statement.sql"],
    );
  });

  it("is UNAUTHENTICATED for a bad token and NOT_FOUND for a connection the token does not name", async () => {
    const stranger = createBerthClient({ url: berth.grpcUrl, token: "berth_t_not-a-real-token" });
    try {
      const err = await failure(stranger.query(pgId, "SELECT 1"));
      assert.equal(err.code, "UNAUTHENTICATED");
      assert.equal(err.kind, "unauthenticated");
      // The token never shows up in what the caller is told.
      assert.doesNotMatch(`${err.message} ${JSON.stringify(err.details)}`, /not-a-real-token/);
    } finally {
      stranger.close();
    }
    const other = await createConnection(berth, "postgresql");
    const err = await failure(client.query(other, "SELECT 1"));
    assert.equal(err.code, "NOT_FOUND");
  });

  it("carries a failed connection check's stage and remedy, with every stage", async () => {
    const admin = createBerthClient({ url: berth.url, token: berth.adminToken, transport: "connect" });
    try {
      // Nothing listens on port 1.
      const dead = await createConnection(berth, "postgresql", { port: 1 });
      const err = await failure(
        admin.service(ConnectionService).testConnection({ target: { case: "id", value: dead } }),
      );
      assert.equal(err.code, "FAILED_PRECONDITION");
      assert.equal(err.kind, "connection_operation_failed");
      assert.equal(err.reason, "connection_refused");
      assert.equal(err.stage, "tcp");
      assert.ok(err.remedy && err.remedy.length > 10, `a remedy: ${err.remedy}`);
      assert.ok((err.checkResult?.stages.length ?? 0) >= 2, "every stage is there");
    } finally {
      admin.close();
    }
  });

  it("is a typed INVALID_ARGUMENT for bad arguments, before anything is sent", async () => {
    await assert.rejects(
      client.query("", "SELECT 1"),
      (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT",
    );
    await assert.rejects(
      client.query(pgId, "SELECT 1", [], { timeoutMs: -1 }),
      (e: unknown) => e instanceof BerthError && e.reason === "invalid_timeout",
    );
    await assert.rejects(
      client.query(pgId, "SELECT $1", [Symbol("x") as never]),
      (e: unknown) => e instanceof BerthError && e.reason === "invalid_parameter",
    );
    for (const bad of [{ n: 1n }, new Map()] as never[]) {
      await assert.rejects(
        client.query(pgId, "SELECT $1", [bad]),
        (e: unknown) => e instanceof BerthError && e.reason === "invalid_parameter",
      );
    }
    await assert.rejects(
      client.query(pgId, "SELECT 1", [], { maxRows: Number.NaN }),
      (e: unknown) => e instanceof BerthError && e.reason === "invalid_max_rows",
    );
    assert.throws(
      () => createBerthClient({ url: "ftp://example" }),
      (e: unknown) => e instanceof BerthError && e.reason === "invalid_url",
    );
  });
});

describe("retries", () => {
  it("wait out a pool whose only session is taken (RESOURCE_EXHAUSTED never reached the database)", async () => {
    const small = await createConnection(berth, "postgresql", { maxPoolSize: 1, acquireTimeoutMs: 150 });
    const patient = createBerthClient({
      url: berth.grpcUrl,
      token: berth.adminToken,
      retry: { maxAttempts: 30, initialDelayMs: 50, maxDelayMs: 100 },
    });
    const impatient = createBerthClient({
      url: berth.grpcUrl,
      token: berth.adminToken,
      retry: { maxAttempts: 1 },
    });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let opened!: () => void;
      const isOpen = new Promise<void>((r) => {
        opened = r;
      });
      const holder = patient.session(small, async () => {
        opened();
        await held;
      });
      await isOpen;
      const err = await failure(impatient.query(small, "SELECT 1"));
      assert.equal(err.code, "RESOURCE_EXHAUSTED");
      assert.equal(err.reason, "pool_exhausted");
      const waiting = patient.query(small, "SELECT 'served' AS what");
      setTimeout(release, 600);
      assert.equal((await waiting).rows[0]!.what, "served");
      await holder;
    } finally {
      patient.close();
      impatient.close();
    }
  });
});
