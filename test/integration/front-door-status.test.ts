import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

const hasPostgres = await serviceAvailable("postgres");

const DAVE = { username: "dave", password: "dave-password-123" };
const VERA = { username: "vera", password: "vera-password-123" };
const OSCAR = { username: "oscar", password: "oscar-password-123" };

interface ClientJson {
  username: string;
  principalKind: string;
  source: string;
  state: string;
  pinnedWhy: string | null;
  connectedAt: string;
  transactions: number;
}

/**
 * A connection's status (GET /api/connections/{id}/status, GetConnectionStatus) shows the
 * PostgreSQL front door's clients of that connection: counts by state and who they are, to
 * whoever may see the connection, and to nobody else.
 */
describe.skipIf(!hasPostgres)("front-door clients in a connection's status", () => {
  let b: TestBerth;
  let id = "";
  const tokens: Record<string, string> = {};
  const open: pg.Client[] = [];

  async function signIn(u: { username: string; password: string }): Promise<string> {
    const created = await b.api("/api/users", { body: u });
    expect(created.status, created.text).toBe(201);
    const login = await b.api("/api/auth/login", { body: u, token: null });
    return login.body.token as string;
  }

  async function frontDoorClient(user: string, password: string, options?: string): Promise<pg.Client> {
    const c = new pg.Client({
      host: "127.0.0.1",
      port: b.berth.pgPort!,
      user,
      password,
      database: "fd",
      ...(options ? { options } : {}),
    });
    await c.connect();
    open.push(c);
    return c;
  }

  const status = (token?: string) =>
    b.api(`/api/connections/${id}/status`, token === undefined ? {} : { token });

  beforeAll(async () => {
    b = await startTestBerth({ BERTH_PG_PORT: "0" });
    const created = await b.api("/api/connections", {
      body: {
        name: "fd",
        type: "postgresql",
        server: LOCAL.postgres.host,
        port: LOCAL.postgres.port,
        database: LOCAL.postgres.database,
        username: LOCAL.postgres.user,
        password: "",
        maxPoolSize: 4,
      },
    });
    expect(created.status, created.text).toBe(201);
    id = created.body.id;
    tokens.dave = await signIn(DAVE);
    tokens.vera = await signIn(VERA);
    tokens.oscar = await signIn(OSCAR);
    for (const [name, level] of [
      ["dave", "user"],
      ["vera", "viewer"],
    ] as const) {
      const userId = (await b.api("/api/users")).body.users.find(
        (u: { username: string }) => u.username === name,
      ).id;
      const granted = await b.api(`/api/connections/${id}/access`, { body: { userId, accessLevel: level } });
      expect(granted.status, granted.text).toBe(201);
    }
  }, 30_000);

  afterAll(async () => {
    await Promise.all(open.map((c) => c.end().catch(() => {})));
    await b?.close();
  });

  it("counts and lists the clients by state, pinned ones too, and follows them as they change", async () => {
    const before = await status();
    expect(before.body.frontDoor).toEqual({ idle: 0, waiting: 0, active: 0, pinned: 0, clients: [] });

    const startedAt = Date.now();
    // An idle client that ran one statement, a client in a transaction (it holds a backend), and a
    // session-pooled client (pinned to its backend from its first statement on).
    const idle = await frontDoorClient("admin", ADMIN_PASSWORD);
    await idle.query("select 1");
    const inTransaction = await frontDoorClient(DAVE.username, DAVE.password);
    await inTransaction.query("BEGIN");
    await inTransaction.query("select 1");
    const session = await frontDoorClient("admin", ADMIN_PASSWORD, "-c berth.pool_mode=session");
    await session.query("select 1");

    const r = await status();
    expect(r.status, r.text).toBe(200);
    const fd = r.body.frontDoor;
    expect({ idle: fd.idle, waiting: fd.waiting, active: fd.active, pinned: fd.pinned }).toEqual({
      idle: 1,
      waiting: 0,
      active: 2,
      pinned: 1,
    });
    // Active first (the oldest first), then idle.
    expect(fd.clients).toMatchObject([
      {
        username: "dave",
        principalKind: "user",
        source: "127.0.0.1",
        state: "active",
        pinnedWhy: null,
        transactions: 0,
      },
      {
        username: "admin",
        principalKind: "user",
        source: "127.0.0.1",
        state: "active",
        pinnedWhy: "session pooling",
        transactions: 1,
      },
      {
        username: "admin",
        principalKind: "user",
        source: "127.0.0.1",
        state: "idle",
        pinnedWhy: null,
        transactions: 1,
      },
    ]);
    for (const c of fd.clients as ClientJson[]) {
      const at = Date.parse(c.connectedAt);
      expect(at).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(at).toBeLessThanOrEqual(Date.now());
    }

    // The transaction ends: its client gives its backend back and has one transaction to its name.
    await inTransaction.query("COMMIT");
    const afterCommit = await until("the committed client shows as idle", async () => {
      const f = (await status()).body.frontDoor;
      return f.active === 1 && f.idle === 2 ? f : undefined;
    });
    expect(afterCommit.clients.find((c: ClientJson) => c.username === "dave")).toMatchObject({
      state: "idle",
      transactions: 1,
    });

    // Clients that leave leave the list.
    await session.end();
    await until("the session-pooled client is gone from the status", async () => {
      const f = (await status()).body.frontDoor;
      return f.clients.length === 2 && f.pinned === 0 && f.active === 0;
    });
  });

  it("lists who is connected to the connection's admins; others see counts; outsiders nothing", async () => {
    const admin = await status();
    expect(admin.body.frontDoor.clients.map((c: ClientJson) => c.username).sort()).toEqual(["admin", "dave"]);
    const viewer = await status(tokens.vera);
    expect(viewer.status, viewer.text).toBe(200);
    expect(viewer.body.frontDoor.idle + viewer.body.frontDoor.active).toBe(2);
    expect(viewer.body.frontDoor.clients).toEqual([]);
    expect(viewer.text).not.toContain("dave");
    const user = await status(tokens.dave);
    expect(user.body.frontDoor.clients).toEqual([]);

    const outsider = await status(tokens.oscar);
    expect(outsider.status).toBe(404);
    expect(outsider.text).not.toContain("dave");
    expect(outsider.text).not.toContain("127.0.0.1");
  });
});
