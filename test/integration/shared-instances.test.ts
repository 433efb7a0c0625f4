import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Berth, startBerth } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { brokerClients, collect, openSession, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, requestJson } from "../support/test-berth.js";
import { createTestDatabase } from "../support/test-store.js";
import { until } from "../support/waits.js";

/**
 * Two instances on one PostgreSQL store and one Redis (shared mode): what is created on one is
 * there on the other at once, every way of ending access (grant revoked, level lowered, user
 * disabled, service token revoked, sign-out) done on one ends the Session streams, leases and
 * front-door clients open on the other within 1 s and frees their slots, and the audit log stays
 * one chain with events from both.
 */
const hasRedis = await serviceAvailable("redis");
const hasPostgres = await serviceAvailable("postgres");

describe.skipIf(!hasRedis || !hasPostgres)("two instances sharing a store", () => {
  const instances: Berth[] = [];
  let dir = "";
  let dropStore = async () => {};
  let a: Berth;
  let b: Berth;
  let token = "";
  let id = "";
  const MEMBERS = { mia: "mia-shared-pw-0001", noah: "noah-shared-pw-0001" };
  const userIds: Record<string, string> = {};

  async function api(
    on: Berth,
    path: string,
    init: { method?: string; body?: unknown; token?: string | null } = {},
  ) {
    // The admin's token unless told otherwise (null: none, as for a sign-in).
    const bearer = init.token === undefined ? token : init.token;
    const res = await requestJson(on.url + path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        "content-type": "application/json",
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.status, body: res.text ? JSON.parse(res.text) : undefined, text: res.text };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-shared-"));
    const store = await createTestDatabase();
    dropStore = store.drop;
    const masterKey = randomBytes(32).toString("base64");
    const start = () =>
      startBerth(
        loadConfig({
          BERTH_PORT: "0",
          BERTH_PG_PORT: "0",
          // One keyring for both (shared mode needs the same keys everywhere).
          BERTH_DATA_DIR: dir,
          BERTH_STORE_URL: store.url,
          BERTH_MASTER_KEY: masterKey,
          BERTH_REDIS_URL: `redis://${LOCAL.redis.host}:${LOCAL.redis.port}`,
          BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
          BERTH_RATE_LIMITS: "off",
          BERTH_LOG_LEVEL: "silent",
        }),
        { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) },
      );
    a = await start();
    instances.push(a);
    b = await start();
    instances.push(b);
    token = (await api(a, "/api/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD } })).body
      .token;
    const created = await api(a, "/api/connections", {
      body: {
        name: "shared-fd",
        type: "postgresql",
        server: "127.0.0.1",
        port: 5432,
        database: "test",
        username: "postgres",
        password: "",
        maxPoolSize: 2,
      },
    });
    expect(created.status, created.text).toBe(201);
    id = created.body.id;
    for (const [username, password] of Object.entries(MEMBERS)) {
      const u = await api(b, "/api/users", { body: { username, password } });
      expect(u.status, u.text).toBe(201);
      userIds[username] = u.body.id;
      expect(
        (await api(b, `/api/connections/${id}/access`, { body: { userId: u.body.id, accessLevel: "user" } }))
          .status,
      ).toBe(201);
    }
  }, 60_000);

  afterAll(async () => {
    for (const i of instances) await i.close();
    await dropStore();
    await rm(dir, { recursive: true, force: true });
  });

  /** What A's pools of a connection have in use, as A's status reports it. */
  const inUseOnA = async (connectionId: string) =>
    (await api(a, `/api/connections/${connectionId}/status`)).body.pool?.inUse as number | undefined;

  async function clientOnA(
    user: string,
    password: string = MEMBERS[user as keyof typeof MEMBERS],
    database = "shared-fd",
  ) {
    const c = new pg.Client({ host: "127.0.0.1", port: a.pgPort, user, password, database });
    const errors: { code?: string; message: string }[] = [];
    c.on("error", (e) => errors.push(e as { code?: string; message: string }));
    await c.connect();
    await c.query("BEGIN");
    await c.query("select 1");
    return { c, errors };
  }

  it("created on one, readable on the other at once", async () => {
    const onB = await api(b, `/api/connections/${id}`);
    expect(onB.status).toBe(200);
    expect(onB.body).toMatchObject({ name: "shared-fd", server: "127.0.0.1", maxPoolSize: 2 });
  });

  it("a revoke on B ends the front-door client on A within 1 s and frees its backend", async () => {
    const { c, errors } = await clientOnA("mia");
    const started = Date.now();
    expect((await api(b, `/api/connections/${id}/access/${userIds.mia}`, { method: "DELETE" })).status).toBe(
      204,
    );
    await until("the client on A is ended", () => errors.length > 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errors[0]).toMatchObject({ code: "57P01" });
    await until("A's pool has nothing in use", async () => (await inUseOnA(id)) === 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    await c.end().catch(() => {});
  });

  it("a user disabled on B ends their client on A within 1 s", async () => {
    const { c, errors } = await clientOnA("noah");
    const started = Date.now();
    const disabled = await api(b, `/api/users/${userIds.noah}`, {
      method: "PATCH",
      body: { disabled: true },
    });
    expect(disabled.status, disabled.text).toBeLessThan(300);
    await until("the client on A is ended", () => errors.length > 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errors[0]).toMatchObject({ code: "57P01" });
    await until("A's pool has nothing in use", async () => (await inUseOnA(id)) === 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    await c.end().catch(() => {});
  });

  describe("every way of ending access, done on B, ends what is open on A", () => {
    let paths = "";
    let seq = 0;

    beforeAll(async () => {
      // Room for a stream, a lease and a front-door client at once.
      const created = await api(a, "/api/connections", {
        body: {
          name: "shared-paths",
          type: "postgresql",
          server: "127.0.0.1",
          port: 5432,
          database: "test",
          username: "postgres",
          password: "",
          maxPoolSize: 4,
        },
      });
      expect(created.status, created.text).toBe(201);
      paths = created.body.id;
    });

    interface Holder {
      /** A session token (signed in on A) or a service token. */
      token: string;
      /** How a front-door client signs in, where the principal can have one. */
      frontDoor?: { user: string; password: string };
      /** The change that takes the access away, made on B. */
      revoke: () => Promise<void>;
    }

    async function member(level: "user" | "editor") {
      const username = `paths-${seq++}`;
      const password = "paths-member-password-1";
      const u = await api(b, "/api/users", { body: { username, password } });
      expect(u.status, u.text).toBe(201);
      const grant = await api(b, `/api/connections/${paths}/access`, {
        body: { userId: u.body.id, accessLevel: level },
      });
      expect(grant.status, grant.text).toBeLessThan(300);
      const login = await api(a, "/api/auth/login", { body: { username, password }, token: null });
      expect(login.status, login.text).toBe(200);
      return { userId: u.body.id as string, token: login.body.token as string, username, password };
    }

    /** A member at `level` on the connection, signed in on A; `revoke` is the change made on B. */
    const memberWay =
      (level: "user" | "editor", revoke: (m: Awaited<ReturnType<typeof member>>) => Promise<number>) =>
      async (): Promise<Holder> => {
        const m = await member(level);
        return {
          token: m.token,
          frontDoor: { user: m.username, password: m.password },
          revoke: async () => expect(await revoke(m)).toBeLessThan(300),
        };
      };
    const status = async (r: Promise<{ status: number }>) => (await r).status;

    const ways: [string, () => Promise<Holder>][] = [
      [
        "grant revoked",
        memberWay("user", (m) =>
          status(api(b, `/api/connections/${paths}/access/${m.userId}`, { method: "DELETE" })),
        ),
      ],
      [
        "level lowered to viewer",
        memberWay("editor", (m) =>
          status(
            api(b, `/api/connections/${paths}/access`, { body: { userId: m.userId, accessLevel: "viewer" } }),
          ),
        ),
      ],
      [
        "user disabled",
        memberWay("user", (m) =>
          status(api(b, `/api/users/${m.userId}`, { method: "PATCH", body: { disabled: true } })),
        ),
      ],
      [
        "service token revoked",
        async () => {
          const name = `paths-svc-${seq++}`;
          const created = await api(b, "/api/tokens", {
            body: { name, connectionIds: [paths], accessLevel: "user" },
          });
          expect(created.status, created.text).toBe(201);
          return {
            token: created.body.token,
            frontDoor: { user: name, password: created.body.token },
            revoke: async () => {
              const r = await api(b, `/api/tokens/${created.body.serviceToken.id}`, { method: "DELETE" });
              expect(r.status, r.text).toBeLessThan(300);
            },
          };
        },
      ],
      [
        // No front-door client: those sign in with the password, not with the HTTP session.
        "signed out",
        async () => {
          const m = await member("user");
          return {
            token: m.token,
            revoke: async () => {
              const r = await api(b, "/api/auth/logout", { method: "POST", token: m.token });
              expect(r.status, r.text).toBeLessThan(300);
            },
          };
        },
      ],
    ];

    const failure = async (p: Promise<unknown>) =>
      ConnectError.from(
        await p.then(
          () => new Error("no error"),
          (e) => e,
        ),
      );

    it.each(ways)(
      "%s: what is open on A (Session stream, lease, front-door client) ends within 1 s, slots freed",
      async (_way, make) => {
        const holder = await make();
        const client = brokerClients(a.url, holder.token);
        const s = openSession(client);
        s.send({ case: "open", value: { connectionId: paths } });
        await s.next();
        s.send({ case: "execute", value: stmt("SELECT 1 AS one") });
        expect((await s.result()).rows).toHaveLength(1);
        const { lease } = await client.broker.acquireLease({ connectionId: paths }, client.call);
        const onLease = () =>
          collect(
            client.broker.execute(
              { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT 1") },
              client.call,
            ),
          );
        expect((await onLease()).rows).toHaveLength(1);
        const fd = holder.frontDoor
          ? await clientOnA(holder.frontDoor.user, holder.frontDoor.password, "shared-paths")
          : undefined;
        expect(await inUseOnA(paths)).toBe(fd ? 3 : 2);
        // Read before the change: the stream ends by itself, without a statement from the holder.
        let streamEndedAt = 0;
        const streamEnd = failure(s.next()).finally(() => {
          streamEndedAt = Date.now();
        });

        const started = Date.now();
        await holder.revoke();
        await until("A's pool has nothing in use", async () => (await inUseOnA(paths)) === 0, 1_000);
        await until("the Session stream on A is ended", () => streamEndedAt > 0, 1_000);
        if (fd) await until("the front-door client on A is ended", () => fd.errors.length > 0, 1_000);
        expect(Date.now() - started).toBeLessThan(1_000);
        expect([Code.PermissionDenied, Code.Unauthenticated]).toContain((await streamEnd).code);
        if (fd) expect(fd.errors[0]).toMatchObject({ code: "57P01" });

        // The next statement on each of them fails.
        s.send({ case: "execute", value: stmt("SELECT 2") });
        await expect(s.next()).rejects.toThrow();
        expect([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated]).toContain(
          (await failure(onLease())).code,
        );
        if (fd) await expect(fd.c.query("select 3")).rejects.toThrow();
        s.close();
        await fd?.c.end().catch(() => {});
      },
    );
  });

  it("the audit log is one chain with events from both instances", async () => {
    const verified = await api(b, "/api/audit/verify", { body: {} });
    expect(verified.status, verified.text).toBe(200);
    expect(verified.body.ok).toBe(true);
    const events = (await api(a, "/api/audit?pageSize=500")).body.events as { action: string }[];
    expect(events.some((e) => e.action === "frontdoor.open")).toBe(true);
    expect(events.some((e) => e.action === "frontdoor.close")).toBe(true);
  });
});
