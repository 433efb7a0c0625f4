import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let daveId = "";
let daveToken = "";
beforeAll(async () => {
  b = await startTestBerth();
  daveId = (await b.api("/api/users", { body: { username: "dave", password: "dave-password-123" } })).body.id;
  daveToken = (
    await b.api("/api/auth/login", { body: { username: "dave", password: "dave-password-123" }, token: null })
  ).body.token;
});
afterAll(async () => b?.close());

describe.skipIf(!hasPostgres)("the RFC's /access paths", () => {
  it("grant, list and revoke; a revoke holds at once, on the data plane too", async () => {
    const created = await b.api("/api/connections", {
      body: {
        name: "shared",
        type: "postgresql",
        server: LOCAL.postgres.host,
        database: "test",
        username: "postgres",
        password: "",
      },
    });
    const id = created.body.id as string;
    expect((await b.api(`/api/connections/${id}`, { token: daveToken })).status).toBe(404);

    const bad = await b.api(`/api/connections/${id}/access`, {
      body: { userId: daveId, accessLevel: "superuser" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.fields.accessLevel).toMatch(/viewer, user, editor, admin, owner/);

    const granted = await b.api(`/api/connections/${id}/access`, {
      body: { userId: daveId, accessLevel: "user" },
    });
    expect(granted.status).toBe(201);
    expect(granted.body).toMatchObject({
      connectionId: id,
      userId: daveId,
      googleEmail: null,
      accessLevel: "user",
    });
    expect(granted.body.assignedAt).toMatch(/^\d{4}-/);
    const list = await b.api(`/api/connections/${id}/access`);
    expect(list.body.access.map((a: { accessLevel: string }) => a.accessLevel).sort()).toEqual([
      "owner",
      "user",
    ]);
    // By name too, for the people reading the list (a connection's admins may not list users).
    expect(list.body.access.map((a: { username: string | null }) => a.username).sort()).toEqual([
      "admin",
      "dave",
    ]);
    // dave may see and use it, but not manage it.
    expect((await b.api(`/api/connections/${id}`, { token: daveToken })).status).toBe(200);
    expect((await b.api(`/api/connections/${id}/access`, { token: daveToken })).status).toBe(403);

    const broker = createClient(BrokerService, createGrpcTransport({ baseUrl: b.url }));
    const run = async () => {
      for await (const _ of broker.execute(
        { target: { case: "connectionId", value: id }, statement: { sql: "SELECT 1", params: [] } },
        { headers: { authorization: `Bearer ${daveToken}` } },
      )) {
        // drain
      }
    };
    await run();
    const { lease } = await broker.acquireLease(
      { connectionId: id },
      { headers: { authorization: `Bearer ${daveToken}` } },
    );
    await broker.releaseLease({ leaseId: lease!.id }, { headers: { authorization: `Bearer ${daveToken}` } });
    await new Promise((r) => setTimeout(r, 100));
    const audit = (await b.api(`/api/audit?connectionId=${id}&pageSize=1000`)).body.events as {
      action: string;
    }[];
    const actions = audit.map((e) => e.action);
    // The pool decrypted the credentials to open a session: that is an audit event of its own.
    expect(actions).toContain("credentials.decrypt");
    // A lease is recorded once as it opens and once as it ends, not again as the calls that did it.
    expect(actions.filter((a) => a === "lease.open")).toHaveLength(1);
    expect(actions.filter((a) => a === "lease.end")).toHaveLength(1);
    expect(actions.filter((a) => a.startsWith("berth.v1.BrokerService/"))).toEqual([]);
    expect((await b.api(`/api/connections/${id}/access/${daveId}`, { method: "DELETE" })).status).toBe(204);
    // Not after a cache's TTL: now.
    const err = ConnectError.from(await run().catch((e) => e));
    expect(err.code).toBe(Code.NotFound);
    expect((await b.api(`/api/connections/${id}`, { token: daveToken })).status).toBe(404);
  });

  it("grants to a Google address and revokes by it", async () => {
    const created = await b.api("/api/connections", {
      body: {
        name: "for-google",
        type: "postgresql",
        server: LOCAL.postgres.host,
        database: "test",
        username: "postgres",
        password: "",
      },
    });
    const id = created.body.id as string;
    const g = await b.api(`/api/connections/${id}/access`, {
      body: { googleEmail: "someone@example.com", accessLevel: "viewer" },
    });
    expect(g.status).toBe(201);
    expect(g.body).toMatchObject({ googleEmail: "someone@example.com", userId: null });
    expect(
      (await b.api(`/api/connections/${id}/access/someone@example.com`, { method: "DELETE" })).status,
    ).toBe(204);
    expect(
      (await b.api(`/api/connections/${id}/access/someone@example.com`, { method: "DELETE" })).status,
    ).toBe(404);
  });
});
