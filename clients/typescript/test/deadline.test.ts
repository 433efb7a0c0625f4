import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type BerthClient, BerthError, createBerthClient } from "@berth/client";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";
import { mysqlQuery, pgRunning, uniqueName } from "./support/databases.js";
import { until } from "./support/waits.js";

/** A deadline (or a cancel) stops the statement on the database itself, not only the wait for it. */
let berth: RunningBerth;
let client: BerthClient;
let pgId: string;
let myId: string;

before(async () => {
  berth = await startBerth();
  pgId = await createConnection(berth, "postgresql");
  myId = await createConnection(berth, "mysql");
  client = createBerthClient({ url: berth.grpcUrl, token: await createServiceToken(berth, [pgId, myId]) });
});

after(async () => {
  client?.close();
  await berth?.dispose();
});

const isCode = (code: string) => (e: unknown) => e instanceof BerthError && e.code === code;

async function mysqlRunning(marker: string): Promise<number> {
  const rows = await mysqlQuery<{ n: number }>(
    "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND COMMAND <> 'Sleep' AND ID <> CONNECTION_ID()",
    [`%/* ${marker} */%`],
  );
  return Number(rows[0]!.n);
}

describe("a deadline", () => {
  it("fails a one-shot query with DEADLINE_EXCEEDED and cancels it on PostgreSQL", async () => {
    const marker = uniqueName("deadline");
    const started = Date.now();
    const call = client.query(pgId, `SELECT pg_sleep(30) /* ${marker} */`, [], { timeoutMs: 1_000 });
    await until("the statement runs on PostgreSQL", async () => (await pgRunning(marker)) === 1);
    await assert.rejects(call, isCode("DEADLINE_EXCEEDED"));
    assert.ok(Date.now() - started < 5_000, "the caller was not held past its deadline");
    await until(
      "the statement is cancelled on PostgreSQL",
      async () => (await pgRunning(marker)) === 0,
      5_000,
    );
  });

  it("fails a statement in a session in-band; the statement is cancelled and the session goes on", async () => {
    const marker = uniqueName("session_deadline");
    await client.session(pgId, async (s) => {
      const slow = s.query(`SELECT pg_sleep(30) /* ${marker} */`, [], { timeoutMs: 800 });
      await until("the statement runs on PostgreSQL", async () => (await pgRunning(marker)) === 1);
      await assert.rejects(
        slow,
        (e: unknown) => isCode("DEADLINE_EXCEEDED")(e) && (e as BerthError).reason === "timeout",
      );
      assert.equal(await pgRunning(marker), 0);
      assert.equal((await s.query("SELECT 1 AS one")).rows[0]!.one, 1n);
    });
  });

  it("cancels a statement on MariaDB too", async () => {
    const marker = uniqueName("deadline_mysql");
    const call = client.query(myId, `SELECT SLEEP(30) /* ${marker} */`, [], { timeoutMs: 1_000 });
    await until("the statement runs on MariaDB", async () => (await mysqlRunning(marker)) === 1);
    await assert.rejects(call, isCode("DEADLINE_EXCEEDED"));
    await until("the statement is killed on MariaDB", async () => (await mysqlRunning(marker)) === 0, 5_000);
  });

  it("bounds a row stream, and an abort signal cancels like a deadline", async () => {
    const marker = uniqueName("abort");
    const abort = new AbortController();
    const rows = client.stream(pgId, `SELECT pg_sleep(30) /* ${marker} */`, [], { signal: abort.signal });
    const reading = (async () => {
      for await (const _ of rows) {
        // nothing arrives
      }
    })();
    await until("the statement runs on PostgreSQL", async () => (await pgRunning(marker)) === 1);
    abort.abort();
    await assert.rejects(reading, isCode("CANCELLED"));
    await until(
      "the statement is cancelled on PostgreSQL",
      async () => (await pgRunning(marker)) === 0,
      5_000,
    );
  });

  it("stops the statement when the reader leaves a stream early", async () => {
    const marker = uniqueName("early_exit");
    for await (const row of client.stream<{ g: bigint }>(
      pgId,
      `SELECT g, repeat('x', 100) FROM generate_series(1, 5000000) g /* ${marker} */`,
    )) {
      // Held back by the reader, the statement is still running on PostgreSQL at this point.
      if (row.g === 1n) assert.equal(await pgRunning(marker), 1);
      if (row.g === 1000n) break;
    }
    await until(
      "the statement is cancelled on PostgreSQL",
      async () => (await pgRunning(marker)) === 0,
      5_000,
    );
  });
});
