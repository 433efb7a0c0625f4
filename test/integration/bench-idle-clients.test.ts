import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openIdleClients } from "../bench/pg-idle-clients.js";
import { startRecordingPostgres } from "../support/recording-postgres-server.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";
import { until } from "../support/waits.js";

/**
 * The front-door bench's idle clients (test/bench/pg-idle-clients.ts) must really be signed in
 * and idle, or the bench's "KB per idle client" would measure refused sockets.
 */
describe.skipIf(!postgresBinDir())("bench idle clients against a real PostgreSQL (SCRAM-SHA-256)", () => {
  let pg: ThrowawayPostgres;
  beforeAll(async () => {
    pg = await startThrowawayPostgres({ password: "idle-clients-superuser-pw" });
  }, 60_000);
  afterAll(async () => {
    await pg?.destroy();
  });
  const activity = async () =>
    Number(
      await pg.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'berth-bench-idle' AND state = 'idle'",
      ),
    );

  it("signs 30 clients in with SCRAM, leaves them idle, and resets them on close", async () => {
    const clients = await openIdleClients(
      { host: pg.host, port: pg.port, user: "postgres", password: pg.password, database: "postgres" },
      30,
      8,
    );
    expect({ ready: clients.ready, failed: clients.failed, error: clients.firstError }).toEqual({
      ready: 30,
      failed: 0,
      error: undefined,
    });
    expect(await activity()).toBe(30);
    expect(clients.dropped()).toBe(0);
    clients.close();
    await until("the server sees the clients gone", async () => (await activity()) === 0);
  });

  it("counts a wrong password as a failure with the server's SQLSTATE, not a throw", async () => {
    const clients = await openIdleClients(
      { host: pg.host, port: pg.port, user: "postgres", password: "not-the-password", database: "postgres" },
      3,
    );
    expect(clients.ready).toBe(0);
    expect(clients.failed).toBe(3);
    expect(clients.firstError).toMatch(/^28P01 /);
    clients.close();
  });
});

describe("bench idle clients against cleartext and MD5 requests", () => {
  it.each(["cleartext", "md5"] as const)("answers a %s password request", async (auth) => {
    const server = await startRecordingPostgres({ auth, accept: true });
    try {
      const clients = await openIdleClients(
        { host: "127.0.0.1", port: server.port, user: "alice", password: "pw-1", database: "db" },
        2,
      );
      expect(clients.ready).toBe(2);
      const inner = createHash("md5").update("pw-1alice").digest("hex");
      const md5 = `md5${createHash("md5")
        .update(Buffer.concat([Buffer.from(inner), Buffer.from([1, 2, 3, 4])]))
        .digest("hex")}`;
      expect(server.recording.passwords.map((p) => p.value)).toEqual(
        auth === "cleartext" ? ["pw-1", "pw-1"] : [md5, md5],
      );
      expect(server.recording.startups[0]).toMatchObject({ user: "alice", database: "db" });
      clients.close();
    } finally {
      await server.close();
    }
  });
});
