import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type BerthClient, BerthError, createBerthClient } from "@berth/client";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";
import { pgQuery, uniqueName } from "./support/databases.js";

/** Berth going away under a session, and coming back. */
let berth: RunningBerth;
let client: BerthClient;
let token: string;
let pgId: string;
const table = uniqueName("sdk_restart");

before(async () => {
  // A graceful stop lets open sessions go on for 90% of this, then ends them.
  berth = await startBerth({ env: { BERTH_SHUTDOWN_GRACE_MS: "1500" } });
  pgId = await createConnection(berth, "postgresql");
  token = await createServiceToken(berth, [pgId]);
  client = createBerthClient({ url: berth.grpcUrl, token });
  await client.query(pgId, `CREATE TABLE ${table} (id int PRIMARY KEY)`);
});

after(async () => {
  await pgQuery(`DROP TABLE IF EXISTS ${table}`);
  client?.close();
  await berth?.dispose();
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("the call succeeded"),
    (e: unknown) => e,
  );

describe("a server restart mid-session", () => {
  it("fails the next statement with a typed UNAVAILABLE when Berth dies, and nothing is committed", async () => {
    const err = await client.session(pgId, (s) =>
      failure(
        s.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES (1)`);
          await berth.stop("SIGKILL");
          await tx.query(`INSERT INTO ${table} VALUES (2)`);
        }),
      ),
    );
    assert.ok(err instanceof BerthError, String(err));
    assert.equal(err.code, "UNAVAILABLE");
    assert.equal(err.reason, "connection_lost");
    assert.deepEqual(await pgQuery(`SELECT id FROM ${table}`), [], "checked directly in the database");

    await berth.start();
    // The same client reconnects on its own.
    assert.equal((await client.query(pgId, "SELECT 1 AS one")).rows[0]!.one, 1n);
  });

  for (const [port, transport] of [
    ["the gRPC port", "grpc"],
    ["the HTTP port", "connect"],
  ] as const) {
    it(`fails it with UNAVAILABLE when Berth shuts down gracefully (${port}), and works after the restart`, async () => {
      const c = createBerthClient({
        url: transport === "grpc" ? berth.grpcUrl : berth.url,
        token,
        transport,
      });
      try {
        const err = await c.session(pgId, async (s) => {
          await s.query("SELECT 1");
          const stopping = berth.stop("SIGTERM");
          // Statements go on during the grace period; then Berth ends the session.
          const e = await failure(
            (async () => {
              for (let i = 0; i < 100; i++) await s.query("SELECT pg_sleep(0.05)");
            })(),
          );
          await stopping;
          return e;
        });
        assert.ok(err instanceof BerthError, String(err));
        assert.equal(err.code, "UNAVAILABLE", `${err.code} ${err.reason}: ${err.message}`);
        // The HTTP port ends the stream with Berth's reason; the grpc-js port closes the connection.
        assert.equal(err.reason, transport === "grpc" ? "connection_lost" : "cancelled_by_shutdown");
        await berth.start();
        const pid = await c.session(
          pgId,
          async (s) => (await s.query("SELECT pg_backend_pid() AS pid")).rows[0]!.pid,
        );
        assert.equal(typeof pid, "bigint");
      } finally {
        c.close();
      }
    });
  }
});

describe("retries of one-shot calls", () => {
  it("fail fast with UNAVAILABLE (server_unreachable) when Berth is down and retries are off", async () => {
    await berth.stop();
    try {
      const noRetry = createBerthClient({ url: berth.grpcUrl, token, retry: { maxAttempts: 1 } });
      const err = await failure(noRetry.query(pgId, "SELECT 1"));
      noRetry.close();
      assert.ok(err instanceof BerthError);
      assert.equal(err.code, "UNAVAILABLE");
      assert.equal(err.reason, "server_unreachable");
    } finally {
      await berth.start();
    }
  });

  it("carry a query over a restart: it never reached the database, so it is sent again", async () => {
    await berth.stop();
    const patient = createBerthClient({
      url: berth.grpcUrl,
      token,
      timeoutMs: 30_000,
      retry: { maxAttempts: 100, initialDelayMs: 50, maxDelayMs: 200 },
    });
    try {
      const answer = patient.query(pgId, "SELECT 42 AS answer");
      await berth.start();
      assert.equal((await answer).rows[0]!.answer, 42n);
    } finally {
      patient.close();
    }
  });
});
