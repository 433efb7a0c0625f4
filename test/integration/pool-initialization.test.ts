import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

const PG = {
  type: "postgresql",
  server: LOCAL.postgres.host,
  port: LOCAL.postgres.port,
  database: LOCAL.postgres.database,
  username: LOCAL.postgres.user,
  password: "pool-init-canary-pw-41c2",
  sslMode: "disable",
  maxPoolSize: 4,
};
let n = 0;
const named = (spec: object) => ({ ...spec, name: `pool-init-${process.pid}-${++n}` });

describe.skipIf(!hasPostgres)("creating a connection initializes its pool (RFC 002, creation flow)", () => {
  let b: TestBerth;
  let eager: TestBerth;
  beforeAll(async () => {
    [b, eager] = await Promise.all([
      startTestBerth(),
      startTestBerth({ BERTH_CREATE_INITIALIZES_POOL: "true" }),
    ]);
  });
  afterAll(async () => Promise.all([b?.close(), eager?.close()]));

  it("when asked: the pool opens a session, and the status is recorded before the answer", async () => {
    const r = await b.api("/api/connections", { body: { ...named(PG), initializePool: true } });
    expect(r.status, r.text).toBe(201);
    expect(r.body.status).toBe("healthy");
    expect(r.body.poolInitialization).toMatchObject({
      initialized: true,
      error: null,
      pool: { size: 1, idle: 1 },
    });
    const status = await b.api(`/api/connections/${r.body.id}/status`);
    expect(status.body.status).toBe("healthy");
    expect(status.body.pool).toMatchObject({ size: 1, maxSize: 4 });
    expect((await b.api(`/api/connections/${r.body.id}`)).body.status).toBe("healthy");
  });

  it("a pool that cannot open leaves the connection created, its status saying why, in the RFC's pool error body", async () => {
    const r = await b.api("/api/connections", { body: { ...named(PG), port: 1, initializePool: true } });
    expect(r.status, r.text).toBe(201);
    expect(r.body.status).toBe("unavailable");
    expect(r.body.poolInitialization.initialized).toBe(false);
    expect(r.body.poolInitialization.error).toEqual({
      error: "pool_operation_failed",
      message: expect.stringMatching(/^Unable to manage connection pool: /),
      details: { reason: "connection_refused", current_size: 0, max_size: 4 },
    });
    expect(r.text).not.toContain(PG.password);
    expect((await b.api(`/api/connections/${r.body.id}`)).body.status).toBe("unavailable");
  });

  it("by default (BERTH_CREATE_INITIALIZES_POOL unset) a create opens nothing; the variable turns it on", async () => {
    const lazy = await b.api("/api/connections", { body: named(PG) });
    expect(lazy.body.status).toBe("untested");
    expect(lazy.body.poolInitialization).toBeUndefined();
    expect((await b.api(`/api/connections/${lazy.body.id}/status`)).body.pool).toBeNull();

    const byDefault = await eager.api("/api/connections", { body: named(PG) });
    expect(byDefault.body).toMatchObject({ status: "healthy", poolInitialization: { initialized: true } });
    const optedOut = await eager.api("/api/connections", { body: { ...named(PG), initializePool: false } });
    expect(optedOut.body.status).toBe("untested");
    expect(optedOut.body.poolInitialization).toBeUndefined();
  });

  it("refuses an initializePool that is not a boolean", async () => {
    const r = await b.api("/api/connections", { body: { ...named(PG), initializePool: "yes" } });
    expect(r.status).toBe(400);
    expect(r.body.details.fields.initializePool).toMatch(/true or false/);
  });
});
