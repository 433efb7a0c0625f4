import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerClients, collect, plain, stmt } from "../support/broker-client.js";
import { makeCertificates, type TestCertificates } from "../support/certs.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import {
  hasMariadbBinaries,
  startThrowawayMariadb,
  type ThrowawayMariadb,
} from "../support/throwaway-mariadb.js";
import {
  postgresBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../support/throwaway-postgres.js";

const hasTools =
  postgresBinDir() !== undefined &&
  (() => {
    try {
      execFileSync("openssl", ["version"]);
      return true;
    } catch {
      return false;
    }
  })();

let b: TestBerth;
let certs: TestCertificates;
let good: ThrowawayPostgres | undefined;
let expired: ThrowawayPostgres | undefined;

beforeAll(async () => {
  b = await startTestBerth();
  if (!hasTools) return;
  certs = makeCertificates();
  const tls = (cert: string) => ["ssl=on", `ssl_cert_file='${cert}'`, `ssl_key_file='${certs.serverKey}'`];
  [good, expired] = await Promise.all([
    startThrowawayPostgres({ password: "tls-superuser-pw", conf: tls(certs.serverCert) }),
    startThrowawayPostgres({ password: "tls-superuser-pw", conf: tls(certs.expiredCert) }),
  ]);
}, 60_000);
afterAll(async () => {
  await b?.close();
  await good?.destroy();
  await expired?.destroy();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

const test = (pg: ThrowawayPostgres, spec: Record<string, unknown>) =>
  b.api("/api/connections/test", {
    body: {
      name: "tls",
      type: "postgresql",
      port: pg.port,
      database: "postgres",
      username: "postgres",
      password: pg.password,
      ...spec,
    },
  });

const stage = (
  body: { stages?: { stage: string }[]; details?: { stages: { stage: string }[] } },
  name: string,
) =>
  (body.stages ?? body.details?.stages ?? []).find((s) => s.stage === name) as
    | Record<string, unknown>
    | undefined;

describe.skipIf(!hasTools)("TLS to a PostgreSQL with ssl=on and a certificate chain made in the test", () => {
  it("verify-full with the CA succeeds, and the tls stage reports protocol, cipher and certificate", async () => {
    const r = await test(good!, { server: "localhost", sslMode: "verify-full", caCertificate: certs.caPem });
    expect(r.status, r.text).toBe(200);
    expect(stage(r.body, "tls")).toMatchObject({
      outcome: "passed",
      details: { verified: "true", subject: "localhost", issuer: "Berth Test CA" },
    });
    expect((stage(r.body, "tls")!.details as Record<string, string>).protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it.each([
    ["an unknown CA", { server: "localhost", sslMode: "verify-full" }, "tls_unknown_ca"],
    [
      "a host name the certificate does not name",
      { server: "127.0.0.1", sslMode: "verify-full", caCertificate: "CA" },
      "tls_name_mismatch",
    ],
  ])("fails at the tls stage for %s", async (_label, spec, reason) => {
    const withCa = (spec as { caCertificate?: string }).caCertificate
      ? { ...spec, caCertificate: certs.caPem }
      : spec;
    const r = await test(good!, withCa);
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({ stage: "tls", reason });
    expect(r.body.details.remedy).toBeTypeOf("string");
  });

  it("fails at the tls stage for an expired certificate", async () => {
    const r = await test(expired!, {
      server: "localhost",
      sslMode: "verify-full",
      caCertificate: certs.caPem,
    });
    expect(r.status).toBe(422);
    expect(r.body.details).toMatchObject({
      stage: "tls",
      reason: "tls_certificate_expired",
      error_code: "CERT_HAS_EXPIRED",
    });
  });

  it("verify-ca checks the chain but not the name; require connects without a CA", async () => {
    expect(
      (await test(good!, { server: "127.0.0.1", sslMode: "verify-ca", caCertificate: certs.caPem })).status,
    ).toBe(200);
    const required = await test(good!, { server: "127.0.0.1", sslMode: "require" });
    expect(required.status).toBe(200);
    expect(stage(required.body, "tls")).toMatchObject({ outcome: "passed", details: { verified: "false" } });
    // prefer uses TLS when offered.
    const preferred = await test(good!, { server: "127.0.0.1" });
    expect(stage(preferred.body, "tls")).toMatchObject({ outcome: "passed" });
  });
});

describe.skipIf(!hasTools || !hasMariadbBinaries())(
  "TLS to a MariaDB with a certificate chain made in the test",
  () => {
    let good: ThrowawayMariadb;
    let expired: ThrowawayMariadb;
    const PASSWORD = "maria-tls-app-pw";
    beforeAll(async () => {
      const tls = (cert: string) => ({ cert, key: certs.serverKey, ca: `${certs.dir}/ca.crt` });
      // One after the other: two bootstraps at once compete for the CPU and time out more easily.
      good = await startThrowawayMariadb({ tls: tls(certs.serverCert) });
      expired = await startThrowawayMariadb({ tls: tls(certs.expiredCert) });
      for (const m of [good, expired]) {
        await m.sql(`CREATE USER 'app'@'%' IDENTIFIED BY '${PASSWORD}'`);
        await m.sql("GRANT ALL ON *.* TO 'app'@'%'");
      }
    }, 60_000);
    afterAll(async () => {
      await good?.destroy();
      await expired?.destroy();
    });
    const maria = (m: ThrowawayMariadb, spec: Record<string, unknown>) =>
      b.api("/api/connections/test", {
        body: {
          name: "tls-maria",
          type: "mysql",
          port: m.port,
          database: "mysql",
          username: "app",
          password: PASSWORD,
          ...spec,
        },
      });

    it("verify-full with the CA succeeds through MySQL's own TLS upgrade", async () => {
      const r = await maria(good, {
        server: "localhost",
        sslMode: "verify-full",
        caCertificate: certs.caPem,
      });
      expect(r.status, r.text).toBe(200);
      expect(stage(r.body, "tls")).toMatchObject({
        outcome: "passed",
        details: { verified: "true", subject: "localhost", issuer: "Berth Test CA" },
      });
      expect(r.body.serverVersion).toMatch(/MariaDB/);
    });

    it("names each verification failure at the tls stage", async () => {
      const unknownCa = await maria(good, { server: "localhost", sslMode: "verify-full" });
      expect(unknownCa.body.details).toMatchObject({ stage: "tls", reason: "tls_unknown_ca" });
      const wrongName = await maria(good, {
        server: "127.0.0.1",
        sslMode: "verify-full",
        caCertificate: certs.caPem,
      });
      expect(wrongName.body.details).toMatchObject({ stage: "tls", reason: "tls_name_mismatch" });
      const old = await maria(expired, {
        server: "localhost",
        sslMode: "verify-full",
        caCertificate: certs.caPem,
      });
      expect(old.body.details).toMatchObject({
        stage: "tls",
        reason: "tls_certificate_expired",
        error_code: "CERT_HAS_EXPIRED",
      });
    });

    it("require connects without a CA, and the session really is encrypted", async () => {
      const r = await maria(good, { server: "127.0.0.1", sslMode: "require" });
      expect(r.status, r.text).toBe(200);
      expect(stage(r.body, "tls")).toMatchObject({ outcome: "passed", details: { verified: "false" } });
      const created = await b.api("/api/connections", {
        body: {
          name: "maria-tls",
          type: "mysql",
          server: "127.0.0.1",
          port: good.port,
          database: "mysql",
          username: "app",
          password: PASSWORD,
          sslMode: "require",
        },
      });
      expect(created.status, created.text).toBe(201);
      // A pooled session, through the data plane: the server says which cipher it runs.
      const client = brokerClients(b.url, b.adminToken);
      const r2 = await collect(
        client.broker.execute(
          {
            target: { case: "connectionId", value: created.body.id },
            statement: stmt("SHOW SESSION STATUS LIKE 'Ssl_cipher'"),
          },
          client.call,
        ),
      );
      expect(String(plain(r2.rows[0]!.values[1]))).toMatch(/AES|CHACHA|TLS/);
    });
  },
);

describe("BERTH_REQUIRE_TLS", () => {
  it("refuses configurations that allow plain text with the RFC's security_violation / ssl_required", async () => {
    const strict = await startTestBerth({ BERTH_REQUIRE_TLS: "true" });
    try {
      const base = {
        name: "plain",
        type: "postgresql",
        server: "127.0.0.1",
        database: "d",
        username: "u",
        password: "p",
      };
      for (const sslMode of ["disable", "prefer"]) {
        const r = await strict.api("/api/connections", { body: { ...base, sslMode } });
        expect(r.status).toBe(422);
        expect(r.body).toMatchObject({
          error: "security_violation",
          details: { reason: "ssl_required", current_protocol: "plain", ssl_mode: sslMode },
        });
        expect(
          (await strict.api("/api/connections/test", { body: { ...base, sslMode } })).body.details.reason,
        ).toBe("ssl_required");
      }
      expect((await strict.api("/api/connections", { body: { ...base, sslMode: "require" } })).status).toBe(
        201,
      );
      expect(
        (await strict.api("/api/connections", { body: { ...base, name: "no-mode" } })).body.details.reason,
      ).toBe("ssl_required");
    } finally {
      await strict.close();
    }
  });
});
