import { connect as tcpConnect } from "node:net";
import { networkInterfaces } from "node:os";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, makeCertificates } from "../support/certs.js";
import {
  createPgConnection,
  createUser,
  failureFrom,
  firstAuthRequest,
  frontDoorClient,
  metricSamples,
  signInFailure,
  sslRequest,
  startupMessage,
} from "../support/frontdoor-pg.js";
import { serviceAvailable } from "../support/services.js";
import { ADMIN_PASSWORD, startTestBerth, type TestBerth } from "../support/test-berth.js";
import { withRawStore } from "../support/test-store.js";
import { until } from "../support/waits.js";

/**
 * Who may come in through the PostgreSQL front door, and what they are told when they may not
 * (issue 12, items 2 and 3): real node-postgres clients against an in-process Berth whose pools
 * reach the local PostgreSQL.
 */
const hasPostgres = await serviceAvailable("postgres");
const METRICS_TOKEN = "metrics-token-frontdoor-access";

let t: TestBerth;
let a = "";
let b = "";
let my = "";

type AuditEvent = Record<string, string>;
const audit = async (): Promise<AuditEvent[]> => (await t.api("/api/audit?pageSize=1000")).body.events;
const frontDoorEvents = async (action: string) =>
  (await audit()).filter((e) => e.action === action && e.transport === "pgwire");

beforeAll(async () => {
  if (!hasPostgres) return;
  t = await startTestBerth({
    BERTH_PG_PORT: "0",
    BERTH_LOGIN_FAILURE_LIMIT: "3",
    BERTH_LOGIN_FAILURE_DELAY_MS: "0",
    BERTH_METRICS_TOKEN: METRICS_TOKEN,
  });
  a = await createPgConnection(t, "fd-a", { maxPoolSize: 2 });
  b = await createPgConnection(t, "fd-b", { maxPoolSize: 2 });
  const m = await t.api("/api/connections", {
    body: {
      name: "fd-mysql",
      type: "mysql",
      server: "127.0.0.1",
      port: 3306,
      database: "test",
      username: "root",
      password: "",
    },
  });
  expect(m.status).toBe(201);
  my = m.body.id;
  await createUser(t, "alice", "alice-password-0001", { [a]: "user", [my]: "user" });
  await createUser(t, "vera", "vera-password-0001", { [a]: "viewer" });
  await createUser(t, "thr", "thr-password-0001", { [a]: "user" });
}, 60_000);
afterAll(async () => t?.close());

describe.skipIf(!hasPostgres)("signing in at the front door", () => {
  it("a user made over REST signs in with SCRAM-SHA-256 and runs statements as the connection's role", async () => {
    // The server asks for SASL (code 10), not a password in clear, even on loopback.
    const asked = await firstAuthRequest("127.0.0.1", t.berth.pgPort!, { user: "alice", database: "fd-a" });
    expect(asked).toEqual({ type: "R", code: 10 });
    const c = frontDoorClient(t, { user: "alice", password: "alice-password-0001", database: "fd-a" });
    await c.connect();
    const r = await c.query("SELECT current_user AS who, 1 + 1 AS two");
    expect(r.rows).toEqual([{ who: "postgres", two: 2 }]);
    await c.end();
    // By id too.
    const byId = frontDoorClient(t, { user: "alice", password: "alice-password-0001", database: a });
    await byId.connect();
    expect((await byId.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await byId.end();
    await until("the open to be audited", async () =>
      (await frontDoorEvents("frontdoor.open")).some((e) => e.actorName === "alice" && e.target === a),
    );
  });

  it("a wrong password → 28P01 with the same hint as an unknown user, audited as frontdoor.denied", async () => {
    const wrong = await signInFailure(t, {
      user: "alice",
      password: "not-alices-password",
      database: "fd-a",
    });
    expect(wrong).toMatchObject({ code: "28P01", severity: "FATAL" });
    expect(wrong.message).toBe('password authentication failed for user "alice"');
    expect(wrong.hint).toBeTruthy();
    const nobody = await signInFailure(t, { user: "nobody-here", password: "whatever-pw", database: "fd-a" });
    expect(nobody.code).toBe("28P01");
    expect(nobody.message).toBe('password authentication failed for user "nobody-here"');
    expect(nobody.hint).toBe(wrong.hint);
    await until("the denial to be audited", async () =>
      (await frontDoorEvents("frontdoor.denied")).some(
        (e) => e.actorName === "alice" && e.outcome === "denied" && e.reason === "invalid_credentials",
      ),
    );
    const signIns = await metricSamples(t, METRICS_TOKEN, "berth_frontdoor_sign_ins_total");
    expect(signIns.get('{outcome="invalid_credentials"}')).toBeGreaterThanOrEqual(2);
    expect(signIns.get('{outcome="ok"}')).toBeGreaterThanOrEqual(1);
  });

  it("the throttle locks an account after BERTH_LOGIN_FAILURE_LIMIT failures, even for the right password; others are untouched", async () => {
    for (let i = 0; i < 3; i++) {
      const f = await signInFailure(t, { user: "thr", password: `wrong-${i}`, database: "fd-a" });
      expect(f.code).toBe("28P01");
    }
    const locked = await signInFailure(t, { user: "thr", password: "thr-password-0001", database: "fd-a" });
    expect(locked.code).toBe("28000");
    expect(locked.message).toMatch(/too many failed sign-ins/i);
    await until("the lock to be audited", async () =>
      (await frontDoorEvents("frontdoor.denied")).some(
        (e) => e.actorName === "thr" && e.reason === "sign_in_locked",
      ),
    );
    // Over HTTP the same account is locked too: one throttle for both doors.
    const http = await t.api("/api/auth/login", {
      body: { username: "thr", password: "thr-password-0001" },
      token: null,
    });
    expect(http.status).toBe(429);
    const alice = frontDoorClient(t, { user: "alice", password: "alice-password-0001", database: "fd-a" });
    await alice.connect();
    await alice.end();
  });

  it("a service token is a password for the token's name, and reaches only the connections it names", async () => {
    const created = await t.api("/api/tokens", {
      body: { name: "orders-svc", connectionIds: [a], accessLevel: "user" },
    });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    const c = frontDoorClient(t, { user: "orders-svc", password: token, database: "fd-a" });
    await c.connect();
    expect((await c.query("SELECT 7 AS seven")).rows).toEqual([{ seven: 7 }]);
    await c.end();
    const other = await signInFailure(t, { user: "orders-svc", password: token, database: "fd-b" });
    const unknown = await signInFailure(t, { user: "orders-svc", password: token, database: "fd-none" });
    expect(other.code).toBe("3D000");
    expect(other.message.replace("fd-b", "X")).toBe(unknown.message.replace("fd-none", "X"));
    const forged = await signInFailure(t, {
      user: "orders-svc",
      password: `${token.slice(0, -4)}AAAA`,
      database: "fd-a",
    });
    expect(forged.code).toBe("28P01");
  });
});

describe.skipIf(!hasPostgres)("what a signed-in client may reach", () => {
  it("an unknown connection and one without a grant get the very same 3D000 answer", async () => {
    const alice = { user: "alice", password: "alice-password-0001" };
    const unknown = await signInFailure(t, { ...alice, database: "zz-no-such" });
    const notGranted = await signInFailure(t, { ...alice, database: "fd-b" });
    expect(unknown).toMatchObject({ code: "3D000", severity: "FATAL" });
    expect(notGranted).toMatchObject({ code: "3D000", severity: "FATAL" });
    expect(notGranted.message.replace("fd-b", "X")).toBe(unknown.message.replace("zz-no-such", "X"));
    expect(notGranted.detail).toBe(unknown.detail);
    expect(notGranted.hint).toBe(unknown.hint);
    // By id: the same again (a real id without a grant, and an id-shaped name that is none).
    const byId = await signInFailure(t, { ...alice, database: b });
    const fakeId = b.replace(/[0-9a-f]/g, "0");
    const unknownId = await signInFailure(t, { ...alice, database: fakeId });
    expect(byId.code).toBe("3D000");
    expect(byId.message.replace(b, "X")).toBe(unknownId.message.replace(fakeId, "X"));
  });

  it("a viewer → 42501, saying the level it has and the one it needs", async () => {
    const f = await signInFailure(t, { user: "vera", password: "vera-password-0001", database: "fd-a" });
    expect(f).toMatchObject({ code: "42501", severity: "FATAL" });
    expect(f.message).toMatch(/viewer/);
    expect(f.message).toMatch(/user or above/);
    await until("the denial to be audited", async () =>
      (await frontDoorEvents("frontdoor.denied")).some((e) => e.actorName === "vera" && e.target === a),
    );
  });

  it("a MySQL connection → 0A000: the front door speaks PostgreSQL only", async () => {
    const f = await signInFailure(t, {
      user: "alice",
      password: "alice-password-0001",
      database: "fd-mysql",
    });
    expect(f).toMatchObject({ code: "0A000", severity: "FATAL" });
    expect(f.message).toMatch(/mysql/);
    expect(f.message).toMatch(/PostgreSQL only/);
    const byId = await signInFailure(t, { user: "alice", password: "alice-password-0001", database: my });
    expect(byId.code).toBe("0A000");
  });
});

describe.skipIf(!hasPostgres)("SSLRequest without TLS configured", () => {
  it("is answered N, and a client that requires TLS fails clearly", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = tcpConnect({ host: "127.0.0.1", port: t.berth.pgPort! }, () => s.write(sslRequest()));
      s.once("data", (d: Buffer) => {
        resolve(d.toString("latin1"));
        s.destroy();
      });
      s.once("error", reject);
    });
    expect(answer).toBe("N");
    // sslmode=require: node-postgres refuses to go on in clear.
    const c = frontDoorClient(t, { database: "fd-a", ssl: { rejectUnauthorized: false } });
    const f = await failureFrom(c.connect());
    expect(f.message).toMatch(/does not support SSL/i);
    await c.end().catch(() => {});
  });
});

describe.skipIf(!hasPostgres)("revocation ends open front-door clients within 1 s", () => {
  let seq = 0;
  const ways: [
    string,
    RegExp,
    () => Promise<{ user: string; password: string; revoke: () => Promise<void> }>,
  ][] = [
    [
      "grant revoked",
      /access to this connection was revoked/,
      async () => {
        const user = `rv-${seq++}`;
        const id = await createUser(t, user, "revocable-password-01", { [a]: "user" });
        return {
          user,
          password: "revocable-password-01",
          revoke: async () => {
            expect((await t.api(`/api/connections/${a}/access/${id}`, { method: "DELETE" })).status).toBe(
              204,
            );
          },
        };
      },
    ],
    [
      "user disabled",
      /disabled/,
      async () => {
        const user = `rv-${seq++}`;
        const id = await createUser(t, user, "revocable-password-01", { [a]: "user" });
        return {
          user,
          password: "revocable-password-01",
          revoke: async () => {
            expect(
              (await t.api(`/api/users/${id}`, { method: "PATCH", body: { disabled: true } })).status,
            ).toBe(200);
          },
        };
      },
    ],
    [
      "service token revoked",
      /token revoked/,
      async () => {
        const user = `rv-svc-${seq++}`;
        const created = await t.api("/api/tokens", {
          body: { name: user, connectionIds: [a], accessLevel: "user" },
        });
        expect(created.status).toBe(201);
        return {
          user,
          password: created.body.token,
          revoke: async () => {
            const r = await t.api(`/api/tokens/${created.body.serviceToken.id}`, { method: "DELETE" });
            expect(r.status).toBeLessThan(300);
          },
        };
      },
    ],
  ];

  const inUse = () => t.berth.dataPlane.pools.poolsOf(a).reduce((n, p) => n + p.stats().inUse, 0);

  it.each(ways)(
    "%s: an idle client and one inside a transaction both get FATAL 57P01 saying why",
    async (_w, why, make) => {
      const holder = await make();
      const idle = frontDoorClient(t, { user: holder.user, password: holder.password, database: "fd-a" });
      const busy = frontDoorClient(t, { user: holder.user, password: holder.password, database: "fd-a" });
      await idle.connect();
      await busy.connect();
      await idle.query("SELECT 1");
      await busy.query("BEGIN");
      await busy.query("CREATE TEMP TABLE revoked_mid_tx (x int)");
      expect(inUse()).toBe(1);
      const ended = (c: typeof idle) =>
        new Promise<number>((resolve) => c.once("end", () => resolve(Date.now())));
      const idleEnded = ended(idle);
      const busyEnded = ended(busy);

      const started = Date.now();
      await holder.revoke();
      const [e1, e2] = await Promise.all([idleEnded, busyEnded]);
      expect(Math.max(e1, e2) - started).toBeLessThan(1_000);
      for (const c of [idle, busy]) {
        expect(c.errors.map((e) => e.code)).toContain("57P01");
        const fatal = c.errors.find((e) => e.code === "57P01")!;
        expect(fatal.severity).toBe("FATAL");
        expect(fatal.message).toMatch(why);
      }
      // The transaction's backend went back to the pool (rolled back).
      await until("the backend to be back in the pool", () => inUse() === 0, 1_000);
      // And the credentials no longer open a new client.
      const again = await signInFailure(t, {
        user: holder.user,
        password: holder.password,
        database: "fd-a",
      });
      expect(["28P01", "3D000"]).toContain(again.code);
    },
  );
});

describe.skipIf(!hasPostgres)("TLS on the front door", () => {
  let tls: TestBerth;
  let caPem = "";
  let tlsId = "";
  beforeAll(async () => {
    const certs = makeCertificates();
    caPem = certs.caPem;
    const server = issueCertificate(certs, "berth-pg", { cn: "localhost", dns: ["localhost"] });
    tls = await startTestBerth(
      { BERTH_PG_PORT: "0", BERTH_TLS_CERT_FILE: server.cert, BERTH_TLS_KEY_FILE: server.key },
      { tls: { ca: caPem } },
    );
    tlsId = await createPgConnection(tls, "fd-tls");
  }, 60_000);
  afterAll(async () => tls?.close());

  it("SSLRequest is answered S: node-postgres verifies Berth's certificate (verify-full) and runs statements over TLS", async () => {
    const c = frontDoorClient(tls, {
      database: "fd-tls",
      ssl: { ca: caPem, servername: "localhost", rejectUnauthorized: true },
    });
    await c.connect();
    const stream = (c as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    expect(stream.encrypted).toBe(true);
    expect(stream.authorized).toBe(true);
    expect((await c.query("SELECT 'over tls' AS s")).rows).toEqual([{ s: "over tls" }]);
    await c.end();
  });

  it("a client that does not trust the certificate fails the handshake; a wrong name too", async () => {
    const untrusted = frontDoorClient(tls, { database: "fd-tls", ssl: { rejectUnauthorized: true } });
    expect((await failureFrom(untrusted.connect())).message).toMatch(
      /self.signed|unable to verify|certificate/i,
    );
    await untrusted.end().catch(() => {});
    const wrongName = frontDoorClient(tls, {
      database: "fd-tls",
      ssl: { ca: caPem, servername: "not-localhost.example", rejectUnauthorized: true },
    });
    expect((await failureFrom(wrongName.connect())).message).toMatch(/altnames|not-localhost/i);
    await wrongName.end().catch(() => {});
  });

  it("inside TLS an account without a SCRAM verifier is asked for its password in clear, and signs in", async () => {
    await createUser(tls, "legacy-tls", "legacy-tls-password-01", { [tlsId]: "user" });
    await dropVerifier(tls, "legacy-tls");
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tcpConnect({ host: "127.0.0.1", port: tls.berth.pgPort! }, () => s.write(sslRequest()));
      s.once("data", (d: Buffer) => {
        if (d.toString("latin1") !== "S") return reject(new Error(`answered ${d.toString("latin1")}`));
        const ts = tlsConnect({ socket: s, ca: caPem, servername: "localhost" }, () => resolve(ts));
        ts.once("error", reject);
      });
      s.once("error", reject);
    });
    expect(secure.authorized).toBe(true);
    const first = await new Promise<Buffer>((resolve) => {
      secure.once("data", resolve);
      secure.write(startupMessage({ user: "legacy-tls", database: "fd-tls" }));
    });
    secure.destroy();
    expect([String.fromCharCode(first[0]!), first.readInt32BE(5)]).toEqual(["R", 3]);
    const c = frontDoorClient(tls, {
      user: "legacy-tls",
      password: "legacy-tls-password-01",
      database: "fd-tls",
      ssl: { ca: caPem, servername: "localhost" },
    });
    await c.connect();
    expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await c.end();
  });
});

/** An account from before Berth kept SCRAM verifiers: its verifier column is empty. */
function dropVerifier(berth: TestBerth, username: string): Promise<number> {
  return withRawStore(berth.dataDir, (raw) =>
    raw.run("update users set scram_verifier = null where username = ?", username),
  );
}

/** This machine's first non-loopback IPv4 address, if it has one. */
function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) if (i.family === "IPv4" && !i.internal) return i.address;
  return undefined;
}
const outside = nonLoopbackAddress();

describe.skipIf(!hasPostgres || !outside)(
  `cleartext passwords off loopback (from ${outside ?? "no non-loopback address"})`,
  () => {
    let w: TestBerth;
    beforeAll(async () => {
      w = await startTestBerth({ BERTH_PG_PORT: "0", BERTH_HOST: "0.0.0.0" });
      const id = await createPgConnection(w, "fd-wide");
      await createUser(w, "legacy", "legacy-password-0001", { [id]: "user" });
    }, 60_000);
    afterAll(async () => w?.close());

    it("an account without a verifier is asked for SASL (not cleartext) on a non-loopback address, and cannot sign in there", async () => {
      await dropVerifier(w, "legacy");
      const params = { user: "legacy", database: "fd-wide" };
      expect(await firstAuthRequest(outside!, w.berth.pgPort!, params)).toEqual({ type: "R", code: 10 });
      const refused = await signInFailure(w, {
        host: outside!,
        user: "legacy",
        password: "legacy-password-0001",
        database: "fd-wide",
      });
      expect(refused.code).toBe("28P01");
      // On loopback the server asks for the password in clear, which signs in and makes a verifier.
      expect(await firstAuthRequest("127.0.0.1", w.berth.pgPort!, params)).toEqual({ type: "R", code: 3 });
      const c = frontDoorClient(w, { user: "legacy", password: "legacy-password-0001", database: "fd-wide" });
      await c.connect();
      await c.end();
      await until(
        "a verifier to be made",
        async () =>
          (await firstAuthRequest(outside!, w.berth.pgPort!, params)).code === 10 &&
          (await firstAuthRequest("127.0.0.1", w.berth.pgPort!, params)).code === 10,
      );
      const now = frontDoorClient(w, {
        host: outside!,
        user: "legacy",
        password: "legacy-password-0001",
        database: "fd-wide",
      });
      await now.connect();
      await now.end();
    });

    it("the admin over the outside address signs in with SCRAM", async () => {
      const c = frontDoorClient(w, { host: outside!, password: ADMIN_PASSWORD, database: "fd-wide" });
      await c.connect();
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await c.end();
    });
  },
);
