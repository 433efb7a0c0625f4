import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, makeCertificates, type TestCertificates } from "../support/certs.js";
import { createPgConnection, createUser, failureFrom, type PgFailure } from "../support/frontdoor-pg.js";
import { serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { until } from "../support/waits.js";

/**
 * Issue 12, item 2: on the front door, a mutual-TLS client certificate authenticates as its service
 * principal, as on the HTTP port (test/integration/server-tls.test.ts): the certificate's CN names a
 * service token, and the client signs in with no password when that name is its startup user.
 */
const hasPostgres = await serviceAvailable("postgres");
const SERVICE = "orders-svc";

let certs: TestCertificates;
let t: TestBerth;
let connectionId = "";
let tokenId = "";
let token = "";
let service: ReturnType<typeof issueCertificate>;

type AuditEvent = Record<string, string>;
const frontDoorEvents = async (action: string): Promise<AuditEvent[]> =>
  ((await t.api("/api/audit?pageSize=1000")).body.events as AuditEvent[]).filter(
    (e) => e.action === action && e.transport === "pgwire",
  );

/** A node-postgres client over TLS presenting `id`'s certificate; no password unless given. */
function certClient(
  id: { certPem: string; keyPem: string },
  o: { user?: string; password?: string } = {},
): pg.Client & { errors: PgFailure[] } {
  const c = new pg.Client({
    host: "127.0.0.1",
    port: t.berth.pgPort,
    user: o.user ?? SERVICE,
    database: "fd-mtls",
    // A function: node-postgres asks for it only if the server asks for a password.
    password: async () => {
      if (o.password === undefined) throw new Error("the server asked for a password");
      return o.password;
    },
    ssl: { ca: certs.caPem, cert: id.certPem, key: id.keyPem, servername: "localhost" },
    connectionTimeoutMillis: 10_000,
  }) as pg.Client & { errors: PgFailure[] };
  c.errors = [];
  c.on("error", (err: { code?: string; message: string }) =>
    c.errors.push({ code: err.code, message: err.message } as PgFailure),
  );
  return c;
}

beforeAll(async () => {
  if (!hasPostgres) return;
  certs = makeCertificates();
  const server = issueCertificate(certs, "berth-pg-mtls", { cn: "localhost", dns: ["localhost"] });
  t = await startTestBerth(
    {
      BERTH_PG_PORT: "0",
      BERTH_TLS_CERT_FILE: server.cert,
      BERTH_TLS_KEY_FILE: server.key,
      BERTH_TLS_CLIENT_CA_FILE: `${certs.dir}/ca.crt`,
      BERTH_TLS_CLIENT_AUTH: "optional",
    },
    { tls: { ca: certs.caPem } },
  );
  connectionId = await createPgConnection(t, "fd-mtls");
  const created = await t.api("/api/tokens", {
    body: { name: SERVICE, connectionIds: [connectionId], accessLevel: "user" },
  });
  expect(created.status, created.text).toBe(201);
  tokenId = created.body.serviceToken.id;
  token = created.body.token;
  service = issueCertificate(certs, SERVICE, { cn: SERVICE, clientAuth: true });
}, 60_000);
afterAll(async () => t?.close());

describe.skipIf(!hasPostgres)(
  "mutual TLS on the front door: a client certificate is a service principal",
  () => {
    it("a certificate whose CN is the startup user signs in with no password, runs statements, and is audited", async () => {
      const c = certClient(service);
      await c.connect();
      expect((await c.query("SELECT 1 AS one, current_user AS role")).rows).toEqual([
        { one: 1, role: "postgres" },
      ]);
      await c.end();
      await until("the open in the audit log", async () =>
        (await frontDoorEvents("frontdoor.open")).some(
          (e) => e.actorName === SERVICE && e.target === connectionId && e.outcome === "ok",
        ),
      );
    });

    it("a certificate from another CA is not trusted: the client is asked for a password, and a wrong one is 28P01", async () => {
      const otherCa = makeCertificates();
      const forged = issueCertificate(otherCa, "orders-forged", { cn: SERVICE, clientAuth: true });
      const refused = await failureFrom(certClient(forged).connect());
      expect(refused.message).toMatch(/asked for a password/);
      const wrong = await failureFrom(certClient(forged, { password: "not-the-token" }).connect());
      expect(wrong.code).toBe("28P01");
      // The service token itself still signs in as a password, certificate or not.
      const withToken = certClient(forged, { password: token });
      await withToken.connect();
      expect((await withToken.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
      await withToken.end();
    });

    it("a certificate whose CN is not the startup user is no sign-in: the user's password decides", async () => {
      await createUser(t, "mtls-alice", "mtls-alice-password-01", { [connectionId]: "user" });
      const wrong = await failureFrom(
        certClient(service, { user: "mtls-alice", password: "not-her-password" }).connect(),
      );
      expect(wrong.code).toBe("28P01");
      const right = certClient(service, { user: "mtls-alice", password: "mtls-alice-password-01" });
      await right.connect();
      expect((await right.query("SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
      await right.end();
    });

    it("revoking the token ends a client signed in by certificate, and the certificate no longer signs in (28000, audited)", async () => {
      const open = certClient(service);
      await open.connect();
      await open.query("SELECT 1");
      const ended = new Promise<void>((resolve) => open.once("end", () => resolve()));
      const r = await t.api(`/api/tokens/${tokenId}`, { method: "DELETE" });
      expect(r.status).toBeLessThan(300);
      await ended;
      expect(open.errors.map((e) => e.code)).toContain("57P01");

      const refused = await failureFrom(certClient(service).connect());
      expect(refused.code).toBe("28000");
      expect(refused.message).toMatch(/no active service principal/);
      await until("the refusal in the audit log", async () =>
        (await frontDoorEvents("frontdoor.denied")).some(
          (e) => e.actorName === SERVICE && e.outcome === "denied" && e.reason === "unknown_certificate",
        ),
      );
    });
  },
);

describe.skipIf(!hasPostgres)("mutual TLS on the front door with client certificates required", () => {
  let strict: TestBerth;
  let strictToken = "";
  beforeAll(async () => {
    const server = issueCertificate(certs, "berth-pg-mtls-r", { cn: "localhost", dns: ["localhost"] });
    const admin = issueCertificate(certs, "ops-laptop-pg", { cn: "ops-laptop-pg", clientAuth: true });
    strict = await startTestBerth(
      {
        BERTH_PG_PORT: "0",
        BERTH_TLS_CERT_FILE: server.cert,
        BERTH_TLS_KEY_FILE: server.key,
        BERTH_TLS_CLIENT_CA_FILE: `${certs.dir}/ca.crt`,
        BERTH_TLS_CLIENT_AUTH: "require",
      },
      { tls: { ca: certs.caPem, cert: admin.certPem, key: admin.keyPem } },
    );
    const id = await createPgConnection(strict, "fd-mtls");
    const created = await strict.api("/api/tokens", {
      body: { name: "billing-svc", connectionIds: [id], accessLevel: "user" },
    });
    expect(created.status, created.text).toBe(201);
    strictToken = created.body.token;
  }, 60_000);
  afterAll(async () => strict?.close());

  const client = (id: { certPem: string; keyPem: string } | undefined, password: string) => {
    const c = new pg.Client({
      host: "127.0.0.1",
      port: strict.berth.pgPort,
      user: "billing-svc",
      database: "fd-mtls",
      password,
      ssl: {
        ca: certs.caPem,
        servername: "localhost",
        ...(id ? { cert: id.certPem, key: id.keyPem } : {}),
      },
      connectionTimeoutMillis: 10_000,
    });
    c.on("error", () => {});
    return c;
  };

  it("refuses the handshake without a certificate and with one from another CA, even with the right token", async () => {
    // Refused by TLS, not by a sign-in answer (which would carry a SQLSTATE).
    const sqlstate = /^[0-9A-Z]{5}$/;
    const none = await failureFrom(client(undefined, strictToken).connect());
    expect(none.code ?? "", none.message).not.toMatch(sqlstate);
    expect(none.message).toMatch(/certificate required|alert/i);
    const otherCa = makeCertificates();
    const forged = issueCertificate(otherCa, "billing-forged", { cn: "billing-svc", clientAuth: true });
    const untrusted = await failureFrom(client(forged, strictToken).connect());
    expect(untrusted.code ?? "", untrusted.message).not.toMatch(sqlstate);
    expect(untrusted.message).toMatch(/terminated|ECONNRESET|socket hang up/i);
    const good = issueCertificate(certs, "billing-svc", { cn: "billing-svc", clientAuth: true });
    const ok = client(good, "not-needed");
    await ok.connect();
    expect((await ok.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await ok.end();
  });
});
