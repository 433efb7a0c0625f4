import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import oracledb from "oracledb";
import { describe, expect, it } from "vitest";
import { connectionAttributes, connectString, oracleDriver } from "../../src/engines/oracle/driver.js";
import {
  fetchTypeHandler,
  type OracleColumn,
  oracleConverter,
  oracleParam,
} from "../../src/engines/oracle/values.js";
import type { Value } from "../../src/gen/berth/v1/values_pb.js";
import { makeCertificates } from "../support/certs.js";
import { connectParamsFor } from "../support/engine-params.js";

// oracledb's own error factory: the errors below are built exactly as the driver builds them.
const oracleErrors = createRequire(import.meta.url)("oracledb/lib/errors.js") as {
  getErr(code: number, ...args: unknown[]): Error & { code: string };
  [name: string]: unknown;
};
const njs = (name: string, ...args: unknown[]) => oracleErrors.getErr(oracleErrors[name] as number, ...args);

const paramsFor = (spec: Record<string, unknown>, clientKey?: string) =>
  connectParamsFor("oracle", { database: "FREEPDB1", ...spec }, { clientKey, connectTimeoutMs: 2500 });

describe("Oracle configuration → oracledb thin", () => {
  it("Easy Connect for a service name, a descriptor for a SID, tcps with TLS", () => {
    expect(connectString(paramsFor({}))).toBe("tcp://db.example:1521/FREEPDB1");
    expect(connectString(paramsFor({ database: "", oracleSid: "ORCL", port: 1522 }))).toBe(
      "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db.example)(PORT=1522))(CONNECT_DATA=(SID=ORCL)))",
    );
    expect(connectString(paramsFor({ sslMode: "verify-full", port: 2484 }))).toBe(
      "tcps://db.example:2484/FREEPDB1",
    );
  });

  it("maps timeouts to whole seconds and verify-ca / verify-full to DN matching", () => {
    const plain = connectionAttributes(paramsFor({}));
    expect(plain).toMatchObject({
      user: "app",
      password: "pw",
      connectTimeout: 3,
      transportConnectTimeout: 3,
    });
    expect(plain.sslServerDNMatch).toBeUndefined();
    expect(connectionAttributes(paramsFor({ sslMode: "verify-full" })).sslServerDNMatch).toBe(true);
    expect(connectionAttributes(paramsFor({ sslMode: "verify-ca" })).sslServerDNMatch).toBe(false);
  });

  it("puts the CA, certificate and key in one PEM wallet for mutual TLS", () => {
    const certs = makeCertificates();
    const key = readFileSync(certs.serverKey, "utf8");
    const cert = readFileSync(certs.serverCert, "utf8");
    const attrs = connectionAttributes(
      paramsFor(
        { sslMode: "verify-full", caCertificate: certs.caPem, clientCertificate: cert, clientKey: key },
        key,
      ),
    );
    expect(attrs.walletContent).toContain(certs.caPem.trim());
    expect(attrs.walletContent).toContain("PRIVATE KEY");
  });

  it("refuses what thin mode cannot do, saying why", () => {
    for (const [spec, field, why] of [
      [{ sslMode: "prefer" }, "sslMode", /TCP or TCPS/],
      [{ sslMode: "require" }, "sslMode", /always verifies/],
      [{ sslMode: "verify-full", caCertificate: makeCertificates().caPem }, "caCertificate", /wallet/],
      [{ tlsServerName: "other.example", sslMode: "verify-full" }, "tlsServerName", /not supported/],
      [{ database: "bad service)(x" }, "database", /service name/],
      [{ oracleSid: "ORCL" }, "oracleSid", /one or the other/],
    ] as const) {
      expect(() => paramsFor(spec)).toThrow(
        expect.objectContaining({
          violations: [expect.objectContaining({ field, description: expect.stringMatching(why) })],
        }),
      );
    }
  });
});

describe("Oracle values", () => {
  const col = (dbType: { num: number }, extra: Partial<OracleColumn> = {}): OracleColumn => ({
    name: "c",
    dbType,
    ...extra,
  });
  const conv = (c: OracleColumn, raw: unknown): Value["kind"] => oracleConverter(c)(raw).kind;

  it("asks for NUMBER and CLOB as text and BLOB as bytes", () => {
    expect(fetchTypeHandler(col(oracledb.DB_TYPE_NUMBER))).toEqual({ type: oracledb.STRING });
    expect(fetchTypeHandler(col(oracledb.DB_TYPE_CLOB))).toEqual({ type: oracledb.STRING });
    expect(fetchTypeHandler(col(oracledb.DB_TYPE_BLOB))).toEqual({ type: oracledb.BUFFER });
    expect(fetchTypeHandler(col(oracledb.DB_TYPE_VARCHAR))).toBeUndefined();
  });

  it("converts NUMBER exactly: integers of up to 18 digits as int64, the rest as decimal text", () => {
    expect(conv(col(oracledb.DB_TYPE_NUMBER, { precision: 10, scale: 0 }), "1234567890")).toEqual({
      case: "int64",
      value: 1234567890n,
    });
    expect(
      conv(col(oracledb.DB_TYPE_NUMBER, { precision: 38, scale: 10 }), "12345678901234567890.0123456789"),
    ).toEqual({
      case: "decimal",
      value: "12345678901234567890.0123456789",
    });
    // NUMBER without precision can hold anything: decimal.
    expect(conv(col(oracledb.DB_TYPE_NUMBER, { precision: 0, scale: -127 }), "1e-130")).toEqual({
      case: "decimal",
      value: "1e-130",
    });
  });

  it("converts DATE, TIMESTAMP, TIMESTAMP WITH TIME ZONE, RAW and VARCHAR2", () => {
    // thin mode builds DATE and TIMESTAMP values in local time, to the millisecond.
    expect(conv(col(oracledb.DB_TYPE_DATE), new Date(2024, 1, 29))).toEqual({
      case: "date",
      value: "2024-02-29",
    });
    expect(conv(col(oracledb.DB_TYPE_DATE), new Date(2024, 1, 29, 13, 5, 9))).toEqual({
      case: "localTimestamp",
      value: "2024-02-29T13:05:09",
    });
    expect(conv(col(oracledb.DB_TYPE_TIMESTAMP), new Date(2024, 0, 2, 3, 4, 5, 678))).toEqual({
      case: "localTimestamp",
      value: "2024-01-02T03:04:05.678",
    });
    expect(conv(col(oracledb.DB_TYPE_TIMESTAMP_TZ), new Date("2024-01-02T03:04:05.678Z"))).toEqual({
      case: "timestamp",
      value: { $typeName: "google.protobuf.Timestamp", seconds: 1704164645n, nanos: 678_000_000 },
    });
    expect(conv(col(oracledb.DB_TYPE_RAW), Buffer.from("beef", "hex"))).toEqual({
      case: "bytes",
      value: Buffer.from("beef", "hex"),
    });
    expect(conv(col(oracledb.DB_TYPE_VARCHAR), "ünïcode")).toEqual({ case: "text", value: "ünïcode" });
    expect(conv(col(oracledb.DB_TYPE_VARCHAR), null)).toEqual({ case: "null", value: true });
  });

  it("binds int64 as text so that NUMBER receives every digit", () => {
    const p = (kind: Value["kind"]) => oracleParam({ $typeName: "berth.v1.Value", kind });
    expect(p({ case: "int64", value: 9007199254740993n })).toEqual({
      val: "9007199254740993",
      type: oracledb.STRING,
    });
    expect(p({ case: "null", value: true })).toBeNull();
  });
});

describe("Oracle errors", () => {
  const d = (err: unknown) => oracleDriver.describeError(err);

  it("maps thin mode's NJS codes to stages' reasons", () => {
    expect(d(njs("ERR_CONNECTION_INCOMPLETE", "h", 1, "id"))).toMatchObject({
      reason: "connection_refused",
      code: "NJS-503",
    });
    expect(d(njs("ERR_CONNECTION_TIMEDOUT", "h", 1, 2, "id"))).toMatchObject({
      reason: "timeout",
      code: "NJS-510",
    });
    expect(d(njs("ERR_INVALID_SERVICE_NAME", "FREE", "h", 1, "id"))).toMatchObject({
      reason: "service_not_found",
    });
    const tls = njs("ERR_TLS_AUTH_FAILURE", "h", 1, "id", "self-signed certificate in certificate chain");
    // The cause is on the second line of the driver's message; it decides the reason and is kept.
    expect(d(tls)).toMatchObject({ reason: "tls_unknown_ca", code: "NJS-506" });
    expect(d(tls).message).toContain("self-signed certificate");
    const expired = njs("ERR_TLS_AUTH_FAILURE", "h", 1, "id", "certificate has expired");
    expect(d(expired).reason).toBe("tls_certificate_expired");
  });

  it("maps ORA codes, and knows which mean the session is gone", () => {
    const denied = Object.assign(
      new Error(
        "ORA-01017: invalid credential or not authorized; logon denied\nHelp: https://docs.oracle.com/error-help/db/ora-01017/",
      ),
      {
        code: "ORA-01017",
        errorNum: 1017,
      },
    );
    expect(d(denied)).toEqual({
      reason: "authentication_failed",
      code: "ORA-01017",
      message: "ORA-01017: invalid credential or not authorized; logon denied",
    });
    const table = Object.assign(new Error("ORA-00942: table or view does not exist"), { code: "ORA-00942" });
    expect(d(table).reason).toBe("object_not_found");
    expect(d(Object.assign(new Error("ORA-12345: something"), { code: "ORA-12345" })).reason).toBe(
      "server_error",
    );
    expect(oracleDriver.isConnectionError(njs("ERR_CONNECTION_CLOSED"))).toBe(true);
    expect(oracleDriver.isConnectionError(table)).toBe(false);
  });
});
