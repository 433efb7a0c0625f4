import { ConnectionError, RequestError, TYPES } from "tedious";
import { describe, expect, it } from "vitest";
import { instanceRequest, portFromResponse } from "../../src/engines/sqlserver/browser.js";
import { connectionConfig, sqlServerDriver } from "../../src/engines/sqlserver/driver.js";
import { ENCRYPTION, encryptionOf, preloginRequest } from "../../src/engines/sqlserver/prelogin.js";
import {
  type SqlServerColumn,
  sqlServerConverter,
  sqlServerNullable,
  sqlServerParam,
  sqlServerTypeName,
} from "../../src/engines/sqlserver/values.js";
import type { Value } from "../../src/gen/berth/v1/values_pb.js";
import { connectParamsFor } from "../support/engine-params.js";

const paramsFor = (spec: Record<string, unknown>) =>
  connectParamsFor("sqlserver", { database: "orders", ...spec });

describe("SQL Server configuration → tedious", () => {
  it("defaults to port 1433 and verified encryption, as tedious itself does", () => {
    const c = connectionConfig(paramsFor({}));
    expect(c.server).toBe("db.example");
    expect(c.options).toMatchObject({
      port: 1433,
      database: "orders",
      encrypt: true,
      trustServerCertificate: false,
      connectTimeout: 4000,
      requestTimeout: 0,
      useUTC: true,
      maxRetriesOnTransientErrors: 0,
    });
    expect(c.authentication).toEqual({ type: "default", options: { userName: "app", password: "pw" } });
  });

  it("maps each sslMode, strict encryption, the server name and a named instance", () => {
    expect(connectionConfig(paramsFor({ sslMode: "disable" })).options).toMatchObject({ encrypt: false });
    expect(connectionConfig(paramsFor({ sslMode: "require" })).options).toMatchObject({
      encrypt: true,
      trustServerCertificate: true,
    });
    const strict = connectionConfig(paramsFor({ strictEncryption: true, tlsServerName: "sql.corp" }))
      .options!;
    expect(strict).toMatchObject({
      encrypt: "strict",
      trustServerCertificate: false,
      serverName: "sql.corp",
    });
    const named = connectionConfig(paramsFor({ instanceName: "SQLEXPRESS" })).options!;
    expect(named.instanceName).toBe("SQLEXPRESS");
    expect(named.port).toBeUndefined();
  });

  it("refuses what tedious cannot do: verify-ca, prefer, strict without verify-full", () => {
    for (const [spec, field] of [
      [{ sslMode: "verify-ca" }, "sslMode"],
      [{ sslMode: "prefer" }, "sslMode"],
      [{ sslMode: "require", strictEncryption: true }, "strictEncryption"],
    ] as const) {
      expect(() => paramsFor(spec)).toThrow(
        expect.objectContaining({ violations: [expect.objectContaining({ field })] }),
      );
    }
  });
});

describe("SQL Server values", () => {
  const col = (
    name: string,
    extra: Partial<SqlServerColumn> & { dataLength?: number } = {},
  ): SqlServerColumn => ({ colName: "c", type: { name }, flags: 0x1, ...extra }) as SqlServerColumn;
  const conv = (c: SqlServerColumn, raw: unknown): Value["kind"] => sqlServerConverter(c)(raw).kind;
  const withTicks = (iso: string, delta: number) =>
    Object.defineProperty(new Date(iso), "nanosecondsDelta", { value: delta });

  it("converts every listed type exactly as tedious hands it over", () => {
    expect(conv(col("IntN", { dataLength: 4 }), 42)).toEqual({ case: "int64", value: 42n });
    expect(sqlServerTypeName(col("IntN", { dataLength: 8 }))).toBe("bigint");
    // tedious decodes bigint to a string, so nothing is lost above 2^53.
    expect(conv(col("BigInt"), "9007199254740993")).toEqual({ case: "int64", value: 9007199254740993n });
    expect(conv(col("DecimalN"), 12.5)).toEqual({ case: "decimal", value: "12.5" });
    expect(sqlServerTypeName(col("DecimalN"))).toBe("decimal");
    expect(conv(col("MoneyN"), 214748.3647)).toEqual({ case: "decimal", value: "214748.3647" });
    expect(conv(col("UniqueIdentifier"), "6F9619FF-8B86-D011-B42D-00C04FC964FF")).toEqual({
      case: "text",
      value: "6F9619FF-8B86-D011-B42D-00C04FC964FF",
    });
    // datetime2(7): milliseconds in the Date, the last four digits in nanosecondsDelta (seconds).
    expect(conv(col("DateTime2"), withTicks("2024-02-29T23:59:58.123Z", 0.0004567))).toEqual({
      case: "localTimestamp",
      value: "2024-02-29T23:59:58.1234567",
    });
    const offset = conv(col("DateTimeOffset"), withTicks("2024-01-02T03:04:05.006Z", 0.0000007));
    expect(offset).toEqual({
      case: "timestamp",
      value: { $typeName: "google.protobuf.Timestamp", seconds: 1704164645n, nanos: 6_000_700 },
    });
    expect(conv(col("DateN"), new Date("2024-02-29T00:00:00Z"))).toEqual({
      case: "date",
      value: "2024-02-29",
    });
    expect(conv(col("VarBinary"), Buffer.from([0, 255]))).toEqual({
      case: "bytes",
      value: Buffer.from([0, 255]),
    });
    expect(conv(col("NVarChar"), "Grüße 👋")).toEqual({ case: "text", value: "Grüße 👋" });
    expect(conv(col("BitN"), true)).toEqual({ case: "bool", value: true });
    expect(conv(col("NVarChar"), null)).toEqual({ case: "null", value: true });
    expect(sqlServerNullable(col("Int", { flags: 0 }))).toBe(false);
  });

  it("binds parameters with types that keep them exact", () => {
    const p = (kind: Value["kind"]) => sqlServerParam({ $typeName: "berth.v1.Value", kind });
    expect(p({ case: "int64", value: 9007199254740993n })).toEqual({
      type: TYPES.BigInt,
      value: 9007199254740993n,
    });
    // A decimal goes as text: SQL Server converts it to the column's precision exactly.
    expect(p({ case: "decimal", value: "12345678901234567.89" })).toEqual({
      type: TYPES.NVarChar,
      value: "12345678901234567.89",
    });
    expect(p({ case: "null", value: true }).value).toBeNull();
    expect(() => p({ case: "array", value: { $typeName: "berth.v1.ValueList", values: [] } })).toThrow(
      /no array/,
    );
  });
});

describe("SQL Server errors", () => {
  const d = (err: unknown) => sqlServerDriver.describeError(err);

  it("names sign-in failures by the server's error number", () => {
    // tedious's own error for a failed login, with the number Berth captures from the ERROR token.
    const login = Object.assign(new ConnectionError("Login failed for user 'app'.", "ELOGIN"), {
      number: 18456,
    });
    expect(d(login)).toMatchObject({ reason: "authentication_failed", code: "18456" });
    const db = Object.assign(
      new ConnectionError('Cannot open database "nope" requested by the login. The login failed.', "ELOGIN"),
      { number: 4060 },
    );
    expect(d(db)).toMatchObject({ reason: "database_not_found", code: "4060" });
    expect(d(new ConnectionError("Login failed.", "ELOGIN"))).toMatchObject({
      reason: "authentication_failed",
    });
  });

  it("names statement failures and tedious's client codes", () => {
    const missing = Object.assign(new RequestError("Invalid object name 'nope'.", "EREQUEST"), {
      number: 208,
    });
    expect(d(missing)).toMatchObject({ reason: "object_not_found", code: "208" });
    expect(d(new RequestError("Canceled.", "ECANCEL"))).toMatchObject({ reason: "cancelled" });
    expect(d(new ConnectionError("Failed to connect to 10.0.0.1:1433 in 5000ms", "ETIMEOUT"))).toMatchObject({
      reason: "timeout",
    });
  });

  it("looks through ESOCKET to the socket error (refused arrives as an AggregateError)", () => {
    const refused = new ConnectionError(
      "Failed to connect to 127.0.0.1:1 - Could not connect (sequence)",
      "ESOCKET",
      {
        cause: new AggregateError(
          [Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })],
          "Could not connect (sequence)",
        ),
      },
    );
    expect(d(refused)).toMatchObject({ reason: "connection_refused", code: "ECONNREFUSED" });
    expect(sqlServerDriver.isConnectionError(refused)).toBe(true);
    const dns = new ConnectionError("Failed to connect to x:1433 - getaddrinfo ENOTFOUND x", "ESOCKET", {
      cause: Object.assign(new Error("getaddrinfo ENOTFOUND x"), { code: "ENOTFOUND" }),
    });
    expect(d(dns)).toMatchObject({ reason: "host_not_found" });
  });
});

describe("TDS PRELOGIN and the SQL Server Browser", () => {
  it("asks for encryption and reads the server's answer ([MS-TDS] 2.2.6.5)", () => {
    const req = preloginRequest(ENCRYPTION.ON);
    expect(req[0]).toBe(0x12);
    expect(req.readUInt16BE(2)).toBe(req.length);
    const payload = req.subarray(8);
    expect(encryptionOf(payload)).toBe(ENCRYPTION.ON);
    const notSupported = Buffer.from(payload);
    notSupported[notSupported.length - 1] = ENCRYPTION.NOT_SUP;
    expect(encryptionOf(notSupported)).toBe(ENCRYPTION.NOT_SUP);
    expect(() => encryptionOf(Buffer.from([0xff]))).toThrow(/SQL Server port/);
  });

  it("reads an instance's port from a Browser answer ([MC-SQLR] SVR_RESP)", () => {
    expect(instanceRequest("SQLEXPRESS")).toEqual(Buffer.from("\x04SQLEXPRESS\x00", "latin1"));
    const text =
      "ServerName;DB1;InstanceName;MSSQLSERVER;IsClustered;No;Version;16.0.1000.6;tcp;1433;;ServerName;DB1;InstanceName;SQLEXPRESS;IsClustered;No;Version;16.0.1000.6;tcp;49172;;";
    const answer = Buffer.concat([
      Buffer.from([0x05, text.length & 0xff, text.length >> 8]),
      Buffer.from(text, "latin1"),
    ]);
    expect(portFromResponse(answer, "sqlexpress")).toBe(49172);
    expect(portFromResponse(answer, "OTHER")).toBeUndefined();
  });
});
