import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgConnection, createUser, frontDoorClient } from "../support/frontdoor-pg.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * The revocation paths that the access suite does not walk: a level lowered below `user`, and a
 * connection deleted under its clients. Each ends an open front-door client within 1 s with 57P01,
 * frees its backend, and leaves clients it does not concern alone.
 */
describe("front door: access that changes under an open client", () => {
  let t: TestBerth;
  let id = "";
  let other = "";
  let erinId = "";
  const PASSWORD = "erin-front-door-pw-1";

  beforeAll(async () => {
    t = await startTestBerth({ BERTH_PG_PORT: "0" });
    id = await createPgConnection(t, "fd-paths", { maxPoolSize: 2 });
    other = await createPgConnection(t, "fd-paths-other", { maxPoolSize: 2 });
    erinId = await createUser(t, "erin", PASSWORD, { [id]: "user", [other]: "user" });
  }, 30_000);

  afterAll(async () => {
    await t?.close();
  });

  async function inTransaction(database: string) {
    const c = frontDoorClient(t, { user: "erin", password: PASSWORD, database });
    await c.connect();
    await c.query("BEGIN");
    await c.query("select 1");
    return c;
  }

  it("a level lowered to viewer ends the client (57P01), frees its backend, spares the other connection", async () => {
    const onIt = await inTransaction("fd-paths");
    const elsewhere = await inTransaction("fd-paths-other");
    const started = Date.now();
    const lowered = await t.api(`/api/connections/${id}/access`, {
      body: { userId: erinId, accessLevel: "viewer" },
    });
    expect(lowered.status, lowered.text).toBeLessThan(300);
    await until("the client is told its access was revoked", async () => onIt.errors.length > 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(onIt.errors[0]).toMatchObject({ code: "57P01" });
    expect(onIt.errors[0]!.message).toMatch(/revoked/);
    await until(
      "its backend is back in the pool",
      async () => (await t.api(`/api/connections/${id}/status`)).body.pool.inUse === 0,
      1_000,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    // The other connection's transaction goes on.
    expect((await elsewhere.query("select 2 as two")).rows[0].two).toBe(2);
    await elsewhere.query("COMMIT");
    await elsewhere.end();
    await onIt.end().catch(() => {});
  });

  it("a deleted connection ends its clients at once, not when its pools' grace runs out", async () => {
    const doomed = await createPgConnection(t, "fd-paths-doomed", { maxPoolSize: 1 });
    await t.api(`/api/connections/${doomed}/access`, { body: { userId: erinId, accessLevel: "user" } });
    const c = await inTransaction("fd-paths-doomed");
    const started = Date.now();
    expect((await t.api(`/api/connections/${doomed}`, { method: "DELETE" })).status).toBe(204);
    await until("the client is ended", async () => c.errors.length > 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(c.errors[0]).toMatchObject({ code: "57P01" });
    await c.end().catch(() => {});
  });
});
