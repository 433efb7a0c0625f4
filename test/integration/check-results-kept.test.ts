import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

// Issue 11: a test's result is kept, whichever path ran it (form Test then Save, validate, PUT).
const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
beforeAll(async () => {
  b = await startTestBerth();
});
afterAll(async () => b?.close());

const pgSpec = (name: string) => ({
  name,
  type: "postgresql",
  server: LOCAL.postgres.host,
  port: LOCAL.postgres.port,
  database: LOCAL.postgres.database,
  username: LOCAL.postgres.user,
  password: "pg-kept-password",
});

describe.skipIf(!hasPostgres)("the result of a test is kept", () => {
  it("a configuration that passed Test in the form is saved healthy, with that test", async () => {
    const tested = await b.api("/api/connections/test", { body: pgSpec("form-tested") });
    expect(tested.status).toBe(200);
    const created = await b.api("/api/connections", { body: pgSpec("form-tested") });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe("healthy");
    expect(created.body.lastTestedAt).toBe(tested.body.checkedAt);
    const status = await b.api(`/api/connections/${created.body.id}/status`);
    expect(status.body.lastTest).toMatchObject({ ok: true, checkedAt: tested.body.checkedAt });
  });

  it("a Create of a configuration other than the one tested is saved untested", async () => {
    expect((await b.api("/api/connections/test", { body: pgSpec("other") })).status).toBe(200);
    const created = await b.api("/api/connections", {
      body: { ...pgSpec("other"), database: "postgres" },
    });
    expect(created.body).toMatchObject({ status: "untested", lastTestedAt: null });
  });

  it("/validate updates lastTestedAt", async () => {
    // A password nobody tested here, so that no kept test applies.
    const created = await b.api("/api/connections", {
      body: { ...pgSpec("validated"), password: "pg-never-tested" },
    });
    expect(created.body.lastTestedAt).toBeNull();
    expect((await b.api(`/api/connections/${created.body.id}/validate`, { body: {} })).status).toBe(200);
    const after = await b.api(`/api/connections/${created.body.id}`);
    expect(after.body.lastTestedAt).not.toBeNull();
    // Validate does not sign in: it proves no health.
    expect(after.body.status).toBe("untested");
  });

  it("a PUT that changes the port is tested first, like new credentials: refused when it fails", async () => {
    const created = await b.api("/api/connections", { body: pgSpec("moved") });
    // A new endpoint needs the credentials again (they are bound to the endpoint).
    const moved = await b.api(`/api/connections/${created.body.id}`, {
      method: "PUT",
      body: { ...pgSpec("moved"), port: 1 },
    });
    expect(moved.status).toBe(422);
    expect(moved.body.details).toMatchObject({ stage: "tcp" });
    expect((await b.api(`/api/connections/${created.body.id}`)).body).toMatchObject({
      port: LOCAL.postgres.port,
      version: 1,
    });
  });

  it("a PUT that changes the endpoint and passes is saved healthy with its test", async () => {
    const created = await b.api("/api/connections", {
      body: { ...pgSpec("renamed-host"), server: "localhost" },
    });
    const put = await b.api(`/api/connections/${created.body.id}`, {
      method: "PUT",
      body: pgSpec("renamed-host"),
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ server: LOCAL.postgres.host, status: "healthy", version: 2 });
    expect(put.body.lastTestedAt).not.toBeNull();
    const status = await b.api(`/api/connections/${created.body.id}/status`);
    expect(status.body.lastTest).toMatchObject({ ok: true });
  });
});
