import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type BerthClient, BerthError, createBerthClient, type Session } from "@berth/client";
import {
  createConnection,
  createServiceToken,
  type Engine,
  type RunningBerth,
  startBerth,
} from "./support/berth.js";
import { mysqlQuery, pgQuery, pgRunning, uniqueName } from "./support/databases.js";
import { startRecordingProxy } from "./support/recording-proxy.js";
import { until } from "./support/waits.js";

let berth: RunningBerth;
let client: BerthClient;
const ids: Record<Engine, string> = { postgresql: "", mysql: "" };

before(async () => {
  berth = await startBerth();
  ids.postgresql = await createConnection(berth, "postgresql");
  ids.mysql = await createConnection(berth, "mysql");
  const token = await createServiceToken(berth, [ids.postgresql, ids.mysql]);
  client = createBerthClient({ url: berth.grpcUrl, token });
});

after(async () => {
  client?.close();
  await berth?.dispose();
});

describe("a session", () => {
  it("answers statements in the order they were sent, on one database session", async () => {
    const answers = await client.session(ids.postgresql, (s) =>
      Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          s.query<{ i: bigint; pid: bigint }>("SELECT $1::int AS i, pg_backend_pid()::int8 AS pid", [i]),
        ),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.rows[0]!.i),
      Array.from({ length: 50 }, (_, i) => BigInt(i)),
    );
    assert.equal(new Set(answers.map((a) => a.rows[0]!.pid)).size, 1);
  });

  it("has several statements in flight: all are on the wire while the first still runs", async () => {
    const proxy = await startRecordingProxy({ host: "127.0.0.1", port: Number(new URL(berth.grpcUrl).port) });
    const token = await createServiceToken(berth, [ids.postgresql]);
    const viaProxy = createBerthClient({ url: proxy.url, token });
    const marker = uniqueName("pipelined");
    try {
      await viaProxy.session(ids.postgresql, async (s) => {
        const first = s.query(`SELECT pg_sleep(0.5) /* ${marker} */`);
        const rest = Array.from({ length: 10 }, (_, i) => s.query(`SELECT '${marker}-${i}' AS tag`));
        await until("the first statement runs on PostgreSQL", async () => (await pgRunning(marker)) === 1);
        await until(
          "the next ten statements are on the wire",
          () => rest.every((_, i) => proxy.sentText().includes(`${marker}-${i}`)),
          2_000,
        );
        // ... while PostgreSQL is still busy with the first: they were sent without waiting for it.
        assert.equal(await pgRunning(marker), 1);
        await first;
        const tags = (await Promise.all(rest)).map((r) => r.rows[0]!.tag);
        assert.deepEqual(
          tags,
          Array.from({ length: 10 }, (_, i) => `${marker}-${i}`),
        );
      });
    } finally {
      viaProxy.close();
      await proxy.close();
    }
  });

  it("reports a failed statement with its SQLSTATE and stays usable", async () => {
    await client.session(ids.postgresql, async (s) => {
      const failing = s.query("SELECT 1 / 0");
      const next = s.query("SELECT 2 AS two");
      const err = await failing.then(
        () => assert.fail("division by zero succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BerthError);
      assert.equal(err.code, "FAILED_PRECONDITION");
      assert.equal(err.kind, "query_failed");
      assert.equal(err.engineCode, "22012");
      assert.match(err.message, /division by zero/);
      assert.equal((await next).rows[0]!.two, 2n);
    });
  });

  it("streams a result row by row inside the session, then answers the next statement", async () => {
    await client.session(ids.postgresql, async (s) => {
      const rows = s.stream<{ g: bigint }>("SELECT g FROM generate_series(1, 50000) g");
      const after = s.query("SELECT 'after' AS what");
      let n = 0n;
      for await (const row of rows) assert.equal(row.g, ++n);
      assert.equal(n, 50000n);
      assert.equal(rows.completion?.rowsReturned, 50000);
      assert.equal((await after).rows[0]!.what, "after");
      // A reader that stops early: the rest is read and dropped, the session stays usable.
      for await (const row of s.stream<{ g: bigint }>("SELECT g FROM generate_series(1, 50000) g")) {
        if (row.g === 10n) break;
      }
      assert.equal((await s.query("SELECT 3 AS three")).rows[0]!.three, 3n);
    });
  });

  it("opens with READ intent (served by the primary when there are no replicas)", async () => {
    const readOnly = await client.session(
      ids.postgresql,
      async (s) =>
        (await s.query<{ ro: string }>("SELECT current_setting('transaction_read_only') AS ro")).rows[0]!.ro,
      { intent: "read" },
    );
    assert.equal(readOnly, "off");
  });

  it("begins a transaction with the isolation level and read-only flag asked for", async () => {
    await client.session(ids.postgresql, async (s) => {
      const level = await s.transaction(
        async (tx) => (await tx.query("SELECT current_setting('transaction_isolation') AS l")).rows[0]!.l,
        { isolation: "serializable" },
      );
      assert.equal(level, "serializable");
      await assert.rejects(
        s.transaction((tx) => tx.query("CREATE TEMP TABLE refused (n int)"), { readOnly: true }),
        (e: unknown) => e instanceof BerthError && e.engineCode === "25006",
      );
    });
  });

  it("refuses to be used after it ended, and refuses a nested transaction", async () => {
    let kept: Session | undefined;
    await client.session(ids.postgresql, async (s) => {
      kept = s;
      await s.transaction(async () => {
        await assert.rejects(
          s.transaction(async () => undefined),
          (e: unknown) => e instanceof BerthError && e.reason === "transaction_open",
        );
      });
    });
    await assert.rejects(
      kept!.query("SELECT 1"),
      (e: unknown) => e instanceof BerthError && e.reason === "session_ended",
    );
  });
});

const TABLES: Record<Engine, (t: string) => string> = {
  postgresql: (t) => `CREATE TABLE ${t} (id int PRIMARY KEY, note text)`,
  mysql: (t) => `CREATE TABLE ${t} (id int PRIMARY KEY, note text) ENGINE=InnoDB`,
};
const PARAM: Record<Engine, (n: number) => string> = { postgresql: (n) => `$${n}`, mysql: () => "?" };
const direct: Record<Engine, (sql: string) => Promise<Record<string, unknown>[]>> = {
  postgresql: (sql) => pgQuery(sql),
  mysql: (sql) => mysqlQuery(sql),
};

for (const engine of ["postgresql", "mysql"] as const) {
  describe(`transactions on ${engine}`, () => {
    const table = uniqueName("sdk_tx");
    const insert = `INSERT INTO ${table} (id, note) VALUES (${PARAM[engine](1)}, ${PARAM[engine](2)})`;
    const stored = async () =>
      (await direct[engine](`SELECT id FROM ${table} ORDER BY id`)).map((r) => Number(r.id));

    before(async () => {
      await client.query(ids[engine], TABLES[engine](table));
    });
    after(async () => {
      await client.query(ids[engine], `DROP TABLE IF EXISTS ${table}`);
    });

    it("commits when the function returns", async () => {
      const result = await client.session(ids[engine], (s) =>
        s.transaction(async (tx) => {
          await Promise.all([tx.query(insert, [1, "one"]), tx.query(insert, [2, "two"])]);
          // Not visible outside the transaction until it commits.
          assert.deepEqual(await stored(), []);
          return "done";
        }),
      );
      assert.equal(result, "done");
      assert.deepEqual(await stored(), [1, 2]);
    });

    it("rolls back when the function throws, and rethrows what it threw", async () => {
      const thrown = new Error("the order is invalid");
      await assert.rejects(
        client.session(ids[engine], async (s) => {
          await s.transaction(async (tx) => {
            await tx.query(insert, [3, "three"]);
            throw thrown;
          });
        }),
        (e: unknown) => e === thrown,
      );
      assert.deepEqual(await stored(), [1, 2], "checked directly in the database");
    });

    it("rolls back when a statement in it fails, and the session goes on", async () => {
      await client.session(ids[engine], async (s) => {
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.query(insert, [4, "four"]);
            await tx.query(insert, [1, "duplicate"]);
          }),
          (e: unknown) =>
            e instanceof BerthError &&
            e.code === "FAILED_PRECONDITION" &&
            e.engineCode === (engine === "postgresql" ? "23505" : "1062"),
        );
        assert.equal(s.inTransaction, false);
        const { rows } = await s.query(`SELECT count(*) AS n FROM ${table}`);
        assert.equal(rows[0]!.n, 2n);
      });
      assert.deepEqual(await stored(), [1, 2], "checked directly in the database");
    });
  });
}
