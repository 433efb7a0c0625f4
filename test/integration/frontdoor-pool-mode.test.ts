import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FrontDoorBerth, startFrontDoorBerth } from "../support/frontdoor.js";

/** A connection that asks its front-door clients to be pooled per session, and one that does not. */
describe("front door: the connection's pool mode", () => {
  let fd: FrontDoorBerth;
  let sessionId = "";
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    fd = await startFrontDoorBerth({ maxPoolSize: 2 });
    const created = await fd.t.api("/api/connections", {
      body: {
        name: "fd-session",
        type: "postgresql",
        server: "127.0.0.1",
        port: 5432,
        database: "test",
        username: "postgres",
        password: "",
        maxPoolSize: 2,
        frontDoorPoolMode: "session",
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.frontDoorPoolMode).toBe("session");
    sessionId = created.body.id;
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await fd?.close();
  });

  async function connected(database: string): Promise<pg.Client> {
    const c = new pg.Client(fd.pgConfig({ database }));
    clients.push(c);
    await c.connect();
    return c;
  }

  async function frontDoor(id: string) {
    return (await fd.t.api(`/api/connections/${id}/status`)).body.frontDoor;
  }

  it("session: the client keeps its backend between transactions (pinned from its first one)", async () => {
    const c = await connected("fd-session");
    const first = (await c.query("select pg_backend_pid() as pid")).rows[0].pid;
    expect((await frontDoor(sessionId)).pinned).toBe(1);
    expect((await frontDoor(sessionId)).active).toBe(1);
    // Another client cannot take that backend: it gets the other one.
    const other = await connected("fd-session");
    expect((await other.query("select pg_backend_pid() as pid")).rows[0].pid).not.toBe(first);
    expect((await c.query("select pg_backend_pid() as pid")).rows[0].pid).toBe(first);
  });

  it("transaction (the default): the backend goes back after each transaction", async () => {
    expect((await fd.t.api(`/api/connections/${fd.connectionId}`)).body.frontDoorPoolMode).toBe(
      "transaction",
    );
    const c = await connected(fd.database);
    await c.query("select 1");
    const f = await frontDoor(fd.connectionId);
    expect(f.pinned).toBe(0);
    expect(f.active).toBe(0);
  });

  it("is refused on another engine and for an unknown mode, with the field named", async () => {
    const mysql = await fd.t.api("/api/connections", {
      body: {
        name: "fd-mysql",
        type: "mysql",
        server: "127.0.0.1",
        database: "test",
        username: "root",
        password: "",
        frontDoorPoolMode: "session",
      },
    });
    expect(mysql.status).toBe(400);
    expect(mysql.body.details.fields.frontDoorPoolMode).toMatch(/only to PostgreSQL/);
    const odd = await fd.t.api("/api/connections", {
      body: {
        name: "fd-odd",
        type: "postgresql",
        server: "127.0.0.1",
        database: "test",
        username: "postgres",
        password: "",
        frontDoorPoolMode: "statement",
      },
    });
    expect(odd.status).toBe(400);
    expect(odd.body.details.fields.frontDoorPoolMode).toMatch(/transaction or session/);
  });
});
