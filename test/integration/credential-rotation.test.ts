import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const hasPostgres = postgresBinDir() !== undefined;
const CALLERS = 8;
const ROTATIONS = 3;

/**
 * A benchmark-style loop of Execute calls while the password changes — first on the server (as an
 * operator or a secrets manager does), then in Berth — three times. The server keeps sessions that
 * signed in with the old password; Berth checks the new one before accepting it, moves new leases
 * to it, and lets the old pool drain. Not one call may fail.
 */
describe.skipIf(!hasPostgres)("credential rotation under load", () => {
  let pg: ThrowawayPostgres;
  let b: TestBerth;
  beforeAll(async () => {
    pg = await startThrowawayPostgres({ password: "rotation-superuser-pw" });
    await pg.sql("CREATE ROLE app LOGIN PASSWORD 'app-password-0'");
    b = await startTestBerth();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await pg?.destroy();
  });

  it("changes the password three times during a stream of Execute calls with zero failures", async () => {
    const spec = {
      name: "rotating",
      type: "postgresql",
      server: "127.0.0.1",
      port: pg.port,
      database: "postgres",
      username: "app",
      sslMode: "disable",
      maxPoolSize: CALLERS,
      minPoolSize: CALLERS,
    };
    const created = await b.api("/api/connections", { body: { ...spec, password: "app-password-0" } });
    expect(created.status, created.text).toBe(201);
    const id: string = created.body.id;
    const client = brokerClients(b.url, b.adminToken);
    let calls = 0;
    const failures: string[] = [];
    let running = true;
    const caller = async () => {
      while (running) {
        try {
          await collect(
            client.broker.execute(
              { target: { case: "connectionId", value: id }, statement: stmt("SELECT pg_sleep(0.002), 1") },
              client.call,
            ),
          );
          calls++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = Array.from({ length: CALLERS }, caller);
    await new Promise((r) => setTimeout(r, 500));

    let version: number = created.body.version;
    for (let i = 1; i <= ROTATIONS; i++) {
      const password = `app-password-${i}`;
      await pg.sql(`ALTER ROLE app PASSWORD '${password}'`);
      await new Promise((r) => setTimeout(r, 200));
      // Berth tests the new password against the server before it accepts it.
      const wrong = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...spec, password: "not-the-new-one", version },
      });
      expect(wrong.status).toBe(422);
      expect(wrong.body.details).toMatchObject({ stage: "auth", reason: "authentication_failed" });
      const changed = await b.api(`/api/connections/${id}`, {
        method: "PUT",
        body: { ...spec, password, version },
      });
      expect(changed.status, changed.text).toBe(200);
      version = changed.body.version;
      await new Promise((r) => setTimeout(r, 700));
    }
    running = false;
    await Promise.all(load);

    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(100);
    // The sessions the server now holds for Berth signed in with the last password's pool.
    const events = await b.api(`/api/audit?connectionId=${id}&pageSize=100`);
    const updates = events.body.events.filter(
      (e: { action: string; outcome: string }) => e.action === "berth.v1.ConnectionService/UpdateConnection",
    );
    expect(updates.map((e: { outcome: string }) => e.outcome).sort()).toEqual([
      ...Array(ROTATIONS).fill("failed"),
      ...Array(ROTATIONS).fill("ok"),
    ]);
    console.log(
      `[credential rotation] ${calls} Execute calls, ${ROTATIONS} rotations, ${failures.length} failed`,
    );
  }, 60_000);
});
