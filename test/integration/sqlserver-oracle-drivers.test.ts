import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testConnection } from "../../src/connections/checks.js";
import { Credentials } from "../../src/connections/settings.js";
import { validateSpec } from "../../src/connections/validation.js";
import { driverFor, type EngineId } from "../../src/engines/index.js";
import { lookupInstancePort } from "../../src/engines/sqlserver/browser.js";
import { CheckOutcome, CheckStage } from "../../src/gen/berth/v1/types_pb.js";
import { makeCertificates, type TestCertificates } from "../support/certs.js";
import { connectParamsFor } from "../support/engine-params.js";
import { startSilentServer, startTlsListener } from "../support/hostile-servers.js";
import { startSqlBrowserDouble } from "../support/sql-browser-double.js";
import { startTdsLoginDouble } from "../support/tds-login-double.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";
import { freePort } from "../support/throwaway-postgres.js";
import { startTnsListenerDouble } from "../support/tns-listener-double.js";

/**
 * SQL Server and Oracle cannot run here, but everything before their first byte of protocol can:
 * these tests drive the real tedious and oracledb against a closed port, an unknown host, a port
 * that never answers and a TLS listener whose CA they do not trust, through both paths Berth uses
 * them on — the staged connection test, and the driver's own connect (what a pool does).
 */
const PASSWORD = "canary-mssql-ora-pw-7c1";
let silent: Awaited<ReturnType<typeof startSilentServer>>;
let tls: Awaited<ReturnType<typeof startTlsListener>>;
let certs: TestCertificates;
let closedPort: number;

beforeAll(async () => {
  certs = makeCertificates();
  silent = await startSilentServer();
  tls = await startTlsListener(certs.serverCert, certs.serverKey);
  closedPort = await freePort();
});
afterAll(async () => {
  await silent?.close();
  await tls?.close();
});

const ENGINES: [EngineId, Record<string, unknown>][] = [
  ["sqlserver", { database: "master" }],
  ["oracle", { database: "FREEPDB1" }],
];

function settingsOf(type: EngineId, spec: Record<string, unknown>) {
  return validateSpec({ name: "t", type, username: "app", password: PASSWORD, ...spec }, { kind: "new" })
    .settings;
}

async function staged(type: EngineId, spec: Record<string, unknown>, timeoutMs = 2500) {
  const settings = settingsOf(type, spec);
  const { result } = await testConnection(
    driverFor(type),
    settings,
    new Credentials("app", PASSWORD, undefined),
    timeoutMs,
  );
  const failed = result.stages.find((s) => s.outcome === CheckOutcome.FAILED);
  return { result, failed, stage: failed ? CheckStage[failed.stage] : "none" };
}

/** The driver's own connect, as a pool opens sessions, and how Berth names its failure. */
async function viaDriver(type: EngineId, spec: Record<string, unknown>, connectTimeoutMs = 1500) {
  const driver = driverFor(type);
  const started = performance.now();
  try {
    const session = await driver.connect(
      connectParamsFor(type, spec, { password: PASSWORD, connectTimeoutMs }),
    );
    session.destroy();
    throw new Error("connected to a server that does not exist");
  } catch (err) {
    return { failure: driver.describeError(err), ms: performance.now() - started };
  }
}

describe.each(ENGINES)("%s through its real driver", (type, base) => {
  const strict = type === "sqlserver" ? { strictEncryption: true } : {};

  it("a closed port → connection_refused at tcp; the driver says the same", async () => {
    const r = await staged(type, { ...base, server: "127.0.0.1", port: closedPort, sslMode: "disable" });
    expect([r.stage, r.failed?.reason]).toEqual(["TCP", "connection_refused"]);
    expect(r.failed?.remedy).toMatch(/Nothing accepts connections/);
    expect(
      (await viaDriver(type, { ...base, server: "127.0.0.1", port: closedPort, sslMode: "disable" })).failure
        .reason,
    ).toBe("connection_refused");
  });

  it("an unknown host → host_not_found at dns; the driver says the same", async () => {
    const r = await staged(type, { ...base, server: "no-such-host.invalid", sslMode: "disable" });
    expect([r.stage, r.failed?.reason]).toEqual(["DNS", "host_not_found"]);
    expect(
      (await viaDriver(type, { ...base, server: "no-such-host.invalid", sslMode: "disable" })).failure.reason,
    ).toBe("host_not_found");
  });

  it("a port that never answers → timeout within the bound, at the first stage that waits", async () => {
    const t0 = performance.now();
    const r = await staged(
      type,
      { ...base, server: "127.0.0.1", port: silent.port, sslMode: "disable" },
      1500,
    );
    expect(performance.now() - t0).toBeLessThan(2500);
    expect([r.stage, r.failed?.reason]).toEqual(["AUTH", "timeout"]);
    const withTls = await staged(
      type,
      { ...base, server: "127.0.0.1", port: silent.port, sslMode: "verify-full", ...strict },
      1500,
    );
    expect([withTls.stage, withTls.failed?.reason]).toEqual(["TLS", "timeout"]);
    const direct = await viaDriver(
      type,
      { ...base, server: "127.0.0.1", port: silent.port, sslMode: "disable" },
      1500,
    );
    expect(direct.failure.reason).toBe("timeout");
    // oracledb counts its timeout in whole seconds (2 s for 1.5 s); tedious in milliseconds.
    expect(direct.ms).toBeLessThan(3000);
  });

  it("a TLS listener with an unknown CA → tls_unknown_ca at tls, with the certificate's own words", async () => {
    const spec = { ...base, server: "localhost", port: tls.port, sslMode: "verify-full", ...strict };
    const r = await staged(type, spec);
    expect([r.stage, r.failed?.reason, r.failed?.errorCode]).toEqual([
      "TLS",
      "tls_unknown_ca",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    ]);
    expect(r.failed?.remedy).toMatch(/caCertificate/);
    expect((await viaDriver(type, spec)).failure.reason).toBe("tls_unknown_ca");
  });

  it("never puts the password in what it reports", async () => {
    const r = await staged(type, { ...base, server: "127.0.0.1", port: closedPort, sslMode: "disable" });
    expect(JSON.stringify(r.result, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
      PASSWORD,
    );
  });
});

describe("SQL Server sign-in through the real tedious, against a double of SQL Server's sign-in", () => {
  let tds: Awaited<ReturnType<typeof startTdsLoginDouble>>;
  beforeAll(async () => {
    tds = await startTdsLoginDouble();
  });
  afterAll(async () => tds?.close());

  it("a refused login → authentication_failed with SQL Server's 18456, at the auth stage", async () => {
    const r = await staged("sqlserver", {
      server: "127.0.0.1",
      port: tds.port,
      database: "master",
      sslMode: "disable",
    });
    expect([r.stage, r.failed?.reason, r.failed?.errorCode]).toEqual([
      "AUTH",
      "authentication_failed",
      "18456",
    ]);
    // The server quotes the user name; Berth does not repeat it.
    expect(r.failed?.message).toBe("Login failed for user '[redacted]'.");
    expect(tds.logins.at(-1)).toEqual({ user: "app", database: "master" });
    const direct = await viaDriver("sqlserver", {
      server: "127.0.0.1",
      port: tds.port,
      database: "master",
      sslMode: "disable",
    });
    expect(direct.failure).toMatchObject({ reason: "authentication_failed", code: "18456" });
  });

  it("an unknown database → database_not_found with 4060", async () => {
    const r = await staged("sqlserver", {
      server: "127.0.0.1",
      port: tds.port,
      database: "nope",
      sslMode: "disable",
    });
    expect([r.stage, r.failed?.reason, r.failed?.errorCode]).toEqual(["AUTH", "database_not_found", "4060"]);
  });

  it("a server without encryption, when TLS is required → tls_not_offered at the tls stage", async () => {
    const r = await staged("sqlserver", {
      server: "127.0.0.1",
      port: tds.port,
      database: "master",
      sslMode: "require",
    });
    expect([r.stage, r.failed?.reason]).toEqual(["TLS", "tls_not_offered"]);
  });
});

describe("Oracle's listener through the real oracledb, against a double of a listener", () => {
  let tns: Awaited<ReturnType<typeof startTnsListenerDouble>>;
  beforeAll(async () => {
    tns = await startTnsListenerDouble();
  });
  afterAll(async () => tns?.close());

  it("an unknown service name → service_not_found (NJS-518, the listener's ORA-12514) at the auth stage", async () => {
    const r = await staged("oracle", {
      server: "127.0.0.1",
      port: tns.port,
      database: "NOSUCHPDB",
      sslMode: "disable",
    });
    expect([r.stage, r.failed?.reason, r.failed?.errorCode]).toEqual([
      "AUTH",
      "service_not_found",
      "NJS-518",
    ]);
    expect(r.failed?.remedy).toMatch(/lsnrctl services/);
    expect(tns.connects.at(-1)).toMatch(/SERVICE_NAME=NOSUCHPDB/);
  });

  it("an unknown SID → service_not_found (NJS-519, ORA-12505)", async () => {
    const r = await viaDriver("oracle", {
      server: "127.0.0.1",
      port: tns.port,
      database: "",
      oracleSid: "NOSID",
      sslMode: "disable",
    });
    expect(r.failure).toMatchObject({ reason: "service_not_found", code: "NJS-519" });
  });
});

describe("SQL Server named instances", () => {
  it("asks the SQL Server Browser for the port, and says so in the tcp stage", async () => {
    const browser = await startSqlBrowserDouble({ SQLEXPRESS: closedPort });
    try {
      expect(await lookupInstancePort("127.0.0.1", "sqlexpress", 1000, browser.port)).toBe(closedPort);
      await expect(lookupInstancePort("127.0.0.1", "OTHER", 300, browser.port)).rejects.toMatchObject({
        code: "EINSTLOOKUP",
      });
    } finally {
      await browser.close();
    }
  });

  // The real Browser listens on UDP 1434, where tedious itself also asks; a root test run can bind it.
  let onRealPort: Awaited<ReturnType<typeof startSqlBrowserDouble>> | undefined;
  beforeAll(async () => {
    onRealPort = await startSqlBrowserDouble({ SQLEXPRESS: silent.port, GONE: closedPort }, 1434).catch(
      () => undefined,
    );
  });
  afterAll(async () => onRealPort?.close());

  it("resolves through UDP 1434 in both the staged test and tedious's own connect", async (ctx) => {
    if (!onRealPort) ctx.skip("UDP 1434 cannot be bound here (not root, or in use)");
    const gone = await staged("sqlserver", {
      server: "127.0.0.1",
      instanceName: "GONE",
      database: "master",
      sslMode: "disable",
    });
    expect([gone.stage, gone.failed?.reason]).toEqual(["TCP", "connection_refused"]);
    expect(gone.result.target).toBe("127.0.0.1\\GONE");
    const silentInstance = await staged(
      "sqlserver",
      { server: "127.0.0.1", instanceName: "SQLEXPRESS", database: "master", sslMode: "disable" },
      1500,
    );
    const tcp = silentInstance.result.stages.find((s) => s.stage === CheckStage.TCP)!;
    expect(tcp.details.instance).toBe(`SQL Server Browser: instance SQLEXPRESS listens on ${silent.port}`);
    const direct = await viaDriver("sqlserver", {
      server: "127.0.0.1",
      instanceName: "GONE",
      database: "master",
      sslMode: "disable",
    });
    expect(direct.failure.reason).toBe("connection_refused");
    const unknown = await staged(
      "sqlserver",
      { server: "127.0.0.1", instanceName: "NOPE", database: "master", sslMode: "disable" },
      1500,
    );
    expect([unknown.stage, unknown.failed?.reason]).toEqual(["TCP", "instance_not_found"]);
  });
});

describe("through Berth's API", () => {
  let b: TestBerth;
  beforeAll(async () => {
    b = await startTestBerth();
  }, 60_000);
  afterAll(async () => b?.close());

  it("creates SQL Server and Oracle connections and tests them with staged answers", async () => {
    for (const [type, base] of ENGINES) {
      const created = await b.api("/api/connections", {
        body: {
          name: `api-${type}`,
          type,
          server: "127.0.0.1",
          port: closedPort,
          username: "app",
          password: PASSWORD,
          sslMode: "disable",
          ...base,
        },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.text).not.toContain(PASSWORD);
      const r = await b.api(`/api/connections/${created.body.id}/test`, { body: {} });
      expect(r.status, r.text).toBe(422);
      expect(r.body).toMatchObject({
        error: "connection_operation_failed",
        details: { stage: "tcp", reason: "connection_refused" },
      });
      expect(r.body.details.remedy).toMatch(/Nothing accepts connections/);
    }
  });
});
