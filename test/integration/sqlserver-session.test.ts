import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testConnection } from "../../src/connections/checks.js";
import { Credentials } from "../../src/connections/settings.js";
import { validateSpec } from "../../src/connections/validation.js";
import type { DriverSession, QueryChunk } from "../../src/drivers/driver.js";
import { sqlServerDriver } from "../../src/engines/sqlserver/driver.js";
import { brokerClients, collect, plain, stmt } from "../support/broker-client.js";
import { connectParamsFor } from "../support/engine-params.js";
import { startTdsServerDouble, type TdsServerDouble } from "../support/tds-server-double.js";
import { startTestBerth } from "../support/test-berth.js";

/**
 * Berth's SQL Server session on the real tedious driver, against a TDS double of SQL Server
 * (test/support/tds-server-double.ts): sign-in, typed rows, streaming that holds the server when the
 * consumer is slow, a row limit and an early stop that cancel with an attention, an explicit
 * cancel, and the session staying usable after each. Real SQL Server: test/containers.
 */
const PASSWORD = "right-password-9";
const OPTIONS = { maxRows: 0, batchBytes: 64 * 1024 };
let tds: TdsServerDouble;
let session: DriverSession;

beforeAll(async () => {
  tds = await startTdsServerDouble(PASSWORD);
  session = await sqlServerDriver.connect(
    connectParamsFor(
      "sqlserver",
      { server: "127.0.0.1", port: tds.port, database: "master", sslMode: "disable" },
      { password: PASSWORD },
    ),
  );
});
afterAll(async () => {
  await session?.close().catch(() => {});
  await tds?.close();
});

async function all(chunks: AsyncIterable<QueryChunk>) {
  const out = {
    columns: [] as string[],
    rows: [] as unknown[][],
    completion: undefined as QueryChunk["completion"],
  };
  for await (const c of chunks) {
    if (c.columns) out.columns = c.columns.map((x) => `${x.name}:${x.typeName}`);
    for (const r of c.rows ?? []) out.rows.push(r.values.map((v) => v.kind.value));
    if (c.completion) out.completion = c.completion;
  }
  return out;
}

describe("SQL Server session through tedious, against a TDS double", () => {
  it("passes every stage of a test with the right password, and reports the version", async () => {
    const { settings } = validateSpec(
      {
        name: "t",
        type: "sqlserver",
        server: "127.0.0.1",
        port: tds.port,
        database: "master",
        sslMode: "disable",
        username: "app",
        password: PASSWORD,
      },
      { kind: "new" },
    );
    const { result, serverVersion } = await testConnection(
      sqlServerDriver,
      settings,
      new Credentials("app", PASSWORD, undefined),
      3000,
    );
    expect(result.ok).toBe(true);
    expect(serverVersion).toBe("SQL Server 16.0.4000.1 (Developer Edition (64-bit))");
  });

  it("streams typed rows in batches", async () => {
    const r = await all(session.query("SELECT /* rows:25000 */ n, label FROM t", [], OPTIONS));
    expect(r.columns).toEqual(["n:int", "label:nvarchar"]);
    expect(r.rows).toHaveLength(25_000);
    expect(r.rows[0]).toEqual([1n, "row-1"]);
    expect(r.rows.at(-1)).toEqual([25_000n, "row-25000"]);
    expect(r.completion).toMatchObject({ rowsReturned: 25_000n, truncated: false, commandTag: "SELECT" });
  });

  it("converts what tedious decodes into exact typed values", async () => {
    const r = await all(session.query("SELECT /* types:1 */ *", [], OPTIONS));
    expect(r.columns).toEqual([
      "big:bigint",
      "dec:decimal",
      "cash:money",
      "id:uniqueidentifier",
      "at:datetime2",
      "seen:datetimeoffset",
      "blob:varbinary",
      "flag:bit",
    ]);
    const [big, dec, cash, id, at, seen, blob, flag] = r.rows[0]!;
    expect(big).toBe(9007199254740993n);
    expect(dec).toBe("12345.6789");
    expect(cash).toBe("214748.3647");
    expect(id).toBe("6F9619FF-8B86-D011-B42D-00C04FC964FF");
    // All seven fractional digits of datetime2(7) survive tedious's millisecond Date.
    expect(at).toBe("2024-02-29T23:59:58.1234567");
    expect(seen).toEqual({ $typeName: "google.protobuf.Timestamp", seconds: 1704164645n, nanos: 6_000_700 });
    expect(Buffer.from(blob as Uint8Array)).toEqual(Buffer.from([0x00, 0xbe, 0xef]));
    expect(flag).toBe(true);
  });

  it("holds the server while the consumer reads slowly (backpressure)", async () => {
    const before = tds.rowsSent;
    const it = session
      .query("SELECT /* rows:1000000 */ n FROM t", [], { ...OPTIONS, batchBytes: 4096 })
      [Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 500));
    // A million rows would be gone in well under half a second if nothing held the server.
    const sentWhilePaused = tds.rowsSent - before;
    expect(sentWhilePaused).toBeLessThan(600_000);
    await it.return?.(undefined);
    expect(tds.attentions).toBeGreaterThanOrEqual(1);
    expect(await all(session.query("SELECT 1", [], OPTIONS))).toMatchObject({ rows: [[1n]] });
  });

  it("stops at the row limit with an attention, and the session is ready for the next statement", async () => {
    const attentions = tds.attentions;
    const r = await all(session.query("SELECT /* rows:50000 */ n FROM t", [], { ...OPTIONS, maxRows: 10 }));
    expect(r.rows).toHaveLength(10);
    expect(r.completion).toMatchObject({ truncated: true, rowsReturned: 10n });
    expect(tds.attentions).toBe(attentions + 1);
    await session.ping();
  });

  it("cancels a running statement on request (attention), reported as cancelled", async () => {
    const running = all(session.query("WAITFOR DELAY '00:00:10'", [], OPTIONS));
    await new Promise((r) => setTimeout(r, 100));
    await session.cancel();
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(sqlServerDriver.describeError(err)).toMatchObject({ reason: "cancelled" });
    await session.ping();
  });

  it("begins with the isolation level asked for, commits and rolls back through the transaction manager", async () => {
    const seen = tds.transactions.length;
    await session.begin("serializable", false);
    await session.commit();
    await session.begin(undefined, false);
    await session.rollback();
    // tedious's ISOLATION_LEVEL: SERIALIZABLE is 4; NO_CHANGE is 0.
    expect(tds.transactions.slice(seen)).toEqual([
      { op: "begin", isolation: 4 },
      { op: "commit" },
      { op: "begin", isolation: 0 },
      { op: "rollback" },
    ]);
    const readOnly = await session.begin(undefined, true).catch((e: unknown) => e);
    expect(sqlServerDriver.describeError(readOnly)).toMatchObject({ reason: "unsupported" });
  });

  it("resets with RESETCONNECTION on the next request", async () => {
    const resets = tds.resets;
    await session.reset();
    expect(tds.resets).toBe(resets + 1);
    expect(session.healthy).toBe(true);
  });
});

describe("SQL Server through Berth's data plane, against the TDS double", () => {
  it("pools sessions and streams Execute results over gRPC, resetting the session after each", async () => {
    const b = await startTestBerth();
    try {
      const created = await b.api("/api/connections", {
        body: {
          name: "mssql-double",
          type: "sqlserver",
          server: "127.0.0.1",
          port: tds.port,
          database: "master",
          sslMode: "disable",
          username: "app",
          password: PASSWORD,
        },
      });
      expect(created.status, created.text).toBe(201);
      const client = brokerClients(b.url, b.adminToken);
      const resets = tds.resets;
      for (let i = 0; i < 3; i++) {
        const r = await collect(
          client.broker.execute(
            {
              target: { case: "connectionId", value: created.body.id },
              statement: stmt("SELECT /* rows:2000 */ n, label"),
            },
            client.call,
          ),
        );
        expect(r.rows).toHaveLength(2000);
        expect(plain(r.rows[1999]!.values[1])).toBe("row-2000");
      }
      // sp_reset_connection semantics: each return to the pool flags the next request.
      await expect.poll(() => tds.resets - resets).toBeGreaterThanOrEqual(2);
    } finally {
      await b.close();
    }
  });
});
