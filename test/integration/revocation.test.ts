import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerClients, collect, openSession, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * Revocation reaches what is already open: for each way access ends — a grant revoked, a level
 * lowered, a user disabled, a sign-out, a service token revoked — an open Session stream and an open
 * lease of that principal are ended within a second: the next statement fails, the pooled session
 * is back in the pool, and the end is audited. A one-shot statement running then is cancelled.
 */
const hasPostgres = await serviceAvailable("postgres");

let b: TestBerth;
let connectionId: string;
let seq = 0;

beforeAll(async () => {
  if (!hasPostgres) return;
  b = await startTestBerth();
  const created = await b.api("/api/connections", {
    body: {
      name: "revocable",
      type: "postgresql",
      server: "127.0.0.1",
      port: LOCAL.postgres.port,
      database: "test",
      username: "postgres",
      password: "unused-under-trust",
    },
  });
  expect(created.status).toBe(201);
  connectionId = created.body.id;
});
afterAll(async () => b?.close());

interface Holder {
  token: string;
  /** How to take its access away, as the admin (or the holder) would. */
  revoke: () => Promise<void>;
}

async function member(level: "user" | "editor"): Promise<{ userId: string; token: string }> {
  const username = `holder-${seq++}`;
  const password = "a-long-enough-password";
  const user = await b.api("/api/users", { body: { username, password } });
  expect(user.status).toBe(201);
  const grant = await b.api(`/api/connections/${connectionId}/access`, {
    body: { userId: user.body.id, accessLevel: level },
  });
  expect(grant.status).toBeLessThan(300);
  const login = await b.api("/api/auth/login", { body: { username, password }, token: null });
  return { userId: user.body.id, token: login.body.token };
}

const ways: [string, () => Promise<Holder>][] = [
  [
    "grant revoked",
    async () => {
      const m = await member("user");
      return {
        token: m.token,
        revoke: async () => {
          const r = await b.api(`/api/connections/${connectionId}/access/${m.userId}`, { method: "DELETE" });
          expect(r.status).toBe(204);
        },
      };
    },
  ],
  [
    "level lowered to viewer",
    async () => {
      const m = await member("editor");
      return {
        token: m.token,
        revoke: async () => {
          const r = await b.api(`/api/connections/${connectionId}/access`, {
            body: { userId: m.userId, accessLevel: "viewer" },
          });
          expect(r.status).toBeLessThan(300);
        },
      };
    },
  ],
  [
    "user disabled",
    async () => {
      const m = await member("user");
      return {
        token: m.token,
        revoke: async () => {
          const r = await b.api(`/api/users/${m.userId}`, { method: "PATCH", body: { disabled: true } });
          expect(r.status).toBe(200);
        },
      };
    },
  ],
  [
    "signed out",
    async () => {
      const m = await member("user");
      return {
        token: m.token,
        revoke: async () => {
          const r = await b.api("/api/auth/logout", { method: "POST", token: m.token });
          expect(r.status).toBeLessThan(300);
        },
      };
    },
  ],
  [
    "service token revoked",
    async () => {
      const created = await b.api("/api/tokens", {
        body: { name: `svc-${seq++}`, connectionIds: [connectionId], accessLevel: "user" },
      });
      expect(created.status).toBe(201);
      return {
        token: created.body.token,
        revoke: async () => {
          const r = await b.api(`/api/tokens/${created.body.serviceToken.id}`, { method: "DELETE" });
          expect(r.status).toBeLessThan(300);
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
const revokedLeaseEnds = async () => {
  const events = (await b.api("/api/audit?pageSize=1000")).body.events as Record<string, string>[];
  return events.filter(
    (e) => e.action === "lease.end" && (e.reason === "revoked" || e.reason === "session_ended"),
  ).length;
};
const inUse = () => b.berth.dataPlane.pools.all().reduce((n, p) => n + p.stats().inUse, 0);

describe.skipIf(!hasPostgres)("revocation ends open access", () => {
  it.each(ways)("%s: the open Session stream and lease end within 1 s, slots freed", async (_way, make) => {
    const holder = await make();
    const client = brokerClients(b.url, holder.token);
    // An open Session stream that has run a statement, and an open lease.
    const s = openSession(client);
    s.send({ case: "open", value: { connectionId } });
    await s.next();
    s.send({ case: "execute", value: stmt("SELECT 1 AS one") });
    expect((await s.result()).rows).toHaveLength(1);
    const { lease } = await client.broker.acquireLease({ connectionId }, client.call);
    expect(
      (
        await collect(
          client.broker.execute(
            { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT 1") },
            client.call,
          ),
        )
      ).rows,
    ).toHaveLength(1);
    // A one-shot statement still running holds a pooled session too.
    const oneShot = failure(
      collect(
        client.broker.execute(
          { target: { case: "connectionId", value: connectionId }, statement: stmt("SELECT pg_sleep(30)") },
          client.call,
        ),
      ),
    );
    await until("the one-shot statement to run", () => inUse() === 3);

    const revokedBefore = await revokedLeaseEnds();
    const started = Date.now();
    await holder.revoke();
    // The three pooled sessions go back without anyone touching the stream or the lease again,
    // and the one-shot statement is cancelled, its caller told why.
    await until("the slots to be freed", () => inUse() === 0, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    const shot = await oneShot;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect([Code.PermissionDenied, Code.Unauthenticated], shot.message).toContain(shot.code);
    expect(b.berth.dataPlane.leases.list().filter((l) => l.connectionId === connectionId)).toHaveLength(0);

    // The stream is over, with the reason; the lease's next statement fails.
    const streamEnd = await failure(s.next());
    expect([Code.PermissionDenied, Code.Unauthenticated]).toContain(streamEnd.code);
    const next = await failure(
      collect(
        client.broker.execute(
          { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT 1") },
          client.call,
        ),
      ),
    );
    expect([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated]).toContain(next.code);

    await expect.poll(revokedLeaseEnds).toBe(revokedBefore + 2);
  });

  it("a grant change leaves other holders' open access alone", async () => {
    const keep = await member("user");
    const lose = await member("user");
    const kept = brokerClients(b.url, keep.token);
    const { lease } = await kept.broker.acquireLease({ connectionId }, kept.call);
    const r = await b.api(`/api/connections/${connectionId}/access/${lose.userId}`, { method: "DELETE" });
    expect(r.status).toBe(204);
    // The re-check ran (the change concerned this connection) and kept the lease that still may.
    const rows = await collect(
      kept.broker.execute(
        { target: { case: "leaseId", value: lease!.id }, statement: stmt("SELECT 2") },
        kept.call,
      ),
    );
    expect(rows.rows).toHaveLength(1);
    await kept.broker.releaseLease({ leaseId: lease!.id }, kept.call);
  });
});
