import { describe, expect, it } from "vitest";
import {
  CredentialsRequiredError,
  endpointChanges,
  requireCredentialsForEndpointChange,
} from "../../src/connections/endpoint-change.js";
import { inputFromRow, settingsColumns, settingsFromRow } from "../../src/connections/row-mapping.js";
import { validateSpec } from "../../src/connections/validation.js";
import type { ConnectionRow } from "../../src/store/schema.js";

const base = {
  name: "orders",
  type: "postgresql",
  server: "db.internal",
  port: 5432,
  database: "orders",
  username: "app",
  password: "pw",
  sslMode: "verify-full",
  replicas: [{ server: "replica-1.internal", port: 5432 }],
};
const settingsOf = (input: object) => validateSpec({ ...base, ...input }, { kind: "new" }).settings;
const none = { username: undefined, password: undefined, clientKey: undefined };

describe("credentials bound to the endpoint", () => {
  const stored = settingsOf({});

  it("lists every change that moves the credentials", () => {
    expect(endpointChanges(stored, settingsOf({ port: 6543 }))).toEqual(["port"]);
    expect(endpointChanges(stored, settingsOf({ server: "evil.example" }))).toEqual(["server"]);
    expect(
      endpointChanges(
        stored,
        settingsOf({ replicas: [...base.replicas, { server: "evil.example", port: 5432 }] }),
      ),
    ).toEqual(["replicas[1]"]);
    expect(
      endpointChanges(stored, settingsOf({ replicas: [{ server: "replica-1.internal", port: 1 }] })),
    ).toEqual(["replicas[0]"]);
    expect(endpointChanges(stored, settingsOf({ sslMode: "disable" }))).toEqual(["sslMode"]);
    expect(endpointChanges(stored, settingsOf({ tlsServerName: "evil.example" }))).toEqual(["tlsServerName"]);
    expect(endpointChanges(stored, settingsOf({ allowCleartextPassword: true }))).toEqual([
      "allowCleartextPassword",
    ]);
    // Trusting a CA, or another one: a server with a certificate from it would get the password.
    const pem = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`;
    const trusting = { ...stored, caCertificate: pem("first-ca") };
    expect(endpointChanges(stored, trusting)).toEqual(["caCertificate"]);
    expect(endpointChanges(trusting, { ...trusting, caCertificate: pem("second-ca") })).toEqual([
      "caCertificate",
    ]);
    expect(endpointChanges(trusting, { ...trusting })).toEqual([]);
    const mysql = settingsOf({ type: "mysql" });
    expect(endpointChanges(stored, mysql)).toEqual(["type"]);
    const sqlserver = validateSpec(
      { ...base, type: "sqlserver", port: undefined, instanceName: "A", sslMode: "verify-full" },
      { kind: "new" },
    ).settings;
    expect(
      endpointChanges(sqlserver, {
        ...sqlserver,
        engineOptions: { ...sqlserver.engineOptions, instanceName: "B" },
      }),
    ).toEqual(["instanceName"]);
    const oracle = validateSpec(
      { ...base, type: "oracle", port: 1521, database: "SVC" },
      { kind: "new" },
    ).settings;
    expect(endpointChanges(oracle, { ...oracle, database: "OTHER" })).toEqual(["database"]);
  });

  it("needs nothing for changes that only narrow where they go, or that are not about the endpoint", () => {
    expect(endpointChanges(stored, settingsOf({ replicas: [] }))).toEqual([]);
    const loose = settingsOf({ sslMode: "prefer", allowCleartextPassword: true });
    expect(endpointChanges(loose, settingsOf({ sslMode: "require" }))).toEqual([]);
    expect(
      endpointChanges(stored, settingsOf({ name: "renamed", description: "d", maxPoolSize: 3 })),
    ).toEqual([]);
    expect(endpointChanges(stored, settingsOf({ database: "other" }))).toEqual([]);
  });

  it("refuses a change without both the username and the password, with a reason a client can act on", () => {
    const moved = settingsOf({ port: 6543 });
    let caught: unknown;
    try {
      requireCredentialsForEndpointChange(stored, moved, { ...none, username: "app" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CredentialsRequiredError);
    const err = caught as CredentialsRequiredError;
    expect(err.kind).toBe("validation_failed");
    expect(err.details).toMatchObject({ reason: "credentials_required", changed: ["port"] });
    expect(err.message).toMatch(/give the username and password again/);
    expect(() => requireCredentialsForEndpointChange(stored, moved, { ...none, password: "x" })).toThrow(
      CredentialsRequiredError,
    );
    expect(() =>
      requireCredentialsForEndpointChange(stored, moved, { ...none, username: "app", password: "" }),
    ).not.toThrow();
    expect(() => requireCredentialsForEndpointChange(stored, settingsOf({ name: "x" }), none)).not.toThrow();
  });
});

describe("a stored client key is bound to the endpoint too", () => {
  const withCert = {
    ...settingsOf({}),
    clientCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
  };
  const moved = { ...withCert, port: 6543 };
  const both = { ...none, username: "app", password: "pw" };

  it("needs the key again when the endpoint moves and a client certificate is configured", () => {
    let caught: unknown;
    try {
      requireCredentialsForEndpointChange(withCert, moved, both, true);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CredentialsRequiredError);
    expect((caught as CredentialsRequiredError).message).toMatch(/and the client key again/);
    expect(() =>
      requireCredentialsForEndpointChange(withCert, moved, { ...both, clientKey: "k" }, true),
    ).not.toThrow();
    // Without a stored key, or without a certificate left to sign for, the two credentials suffice.
    expect(() => requireCredentialsForEndpointChange(withCert, moved, both, false)).not.toThrow();
    expect(() =>
      requireCredentialsForEndpointChange(withCert, { ...moved, clientCertificate: "" }, both, true),
    ).not.toThrow();
  });
});

describe("a stored row read back as input (validate holds it to today's rules)", () => {
  const rowOf = (input: object) => {
    const settings = validateSpec(input, { kind: "new" }).settings;
    return { ...settingsColumns(settings), id: "x", name_key: settings.name } as unknown as ConnectionRow;
  };

  it("keeps the engine options", () => {
    for (const input of [
      { ...base, type: "sqlserver", port: undefined, instanceName: "SQLEXPRESS", strictEncryption: true },
      { ...base, type: "oracle", port: 1521, database: "", oracleSid: "ORCL", sslMode: "disable" },
      { ...base, sslMode: "disable", allowCleartextPassword: true },
    ]) {
      const row = rowOf(input);
      const again = validateSpec(inputFromRow(row), { kind: "update", hasStoredClientKey: false }).settings;
      expect(again).toEqual(settingsFromRow(row));
    }
  });
});
