import { describe, expect, it } from "vitest";
import { hostProblem } from "../../src/connections/host.js";
import { validateSpec } from "../../src/connections/validation.js";
import { ValidationError } from "../../src/errors/berth-error.js";

const good = {
  name: "orders",
  type: "postgresql",
  server: "db.internal",
  database: "orders",
  username: "app",
  password: "pw",
};

function violations(
  input: object,
  mode: Parameters<typeof validateSpec>[1] = { kind: "new" },
): Record<string, string> {
  try {
    validateSpec(input, mode);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return Object.fromEntries((err as ValidationError).violations.map((v) => [v.field, v.description]));
  }
  return {};
}

describe("connection spec validation", () => {
  it("applies the engine's default port and the pool defaults", () => {
    const { settings } = validateSpec(good, { kind: "new" });
    expect(settings.port).toBe(5432);
    expect(validateSpec({ ...good, type: "mysql" }, { kind: "new" }).settings.port).toBe(3306);
    expect(settings.pool).toEqual({
      maxPoolSize: 10,
      minPoolSize: 0,
      acquireTimeoutMs: 10_000,
      idleTimeoutMs: 300_000,
      maxLifetimeMs: 1_800_000,
    });
    expect(settings.sslMode).toBe("prefer");
  });

  it("reports every bad field at once, each with its reason", () => {
    const v = violations({ name: "x".repeat(10_000), type: "mongodb", server: "bad host", port: 70000 });
    expect(Object.keys(v).sort()).toEqual(
      ["database", "name", "password", "port", "server", "type", "username"].sort(),
    );
    expect(v.name).toMatch(/at most 100 characters/);
    expect(v.type).toMatch(/unknown engine "mongodb"/);
    expect(v.port).toMatch(/1 to 65535/);
  });

  it.each([0, -1, 65536, 1.5])("rejects port %s", (port) => {
    expect(violations({ ...good, port })).toHaveProperty("port");
  });

  it("rejects control characters and padded names", () => {
    expect(violations({ ...good, name: "a\u0000b" })).toHaveProperty("name");
    expect(violations({ ...good, database: "a\nb" })).toHaveProperty("database");
    expect(violations({ ...good, name: " orders" })).toHaveProperty("name");
    expect(violations({ ...good, name: "'; DROP TABLE connections; --" })).toHaveProperty("name");
  });

  it("requires credentials on create but not on update", () => {
    const { username: _u, password: _p, ...noCreds } = good;
    expect(Object.keys(violations(noCreds))).toEqual(["username", "password"]);
    expect(violations(noCreds, { kind: "update", hasStoredClientKey: false })).toEqual({});
    expect(violations({ ...good, password: "" })).toEqual({});
  });

  it("derives sslMode from useSsl and refuses contradictions", () => {
    expect(validateSpec({ ...good, useSsl: true }, { kind: "new" }).settings.sslMode).toBe("verify-full");
    expect(validateSpec({ ...good, useSsl: false }, { kind: "new" }).settings.sslMode).toBe("disable");
    expect(validateSpec({ ...good, sslMode: "verify-ca" }, { kind: "new" }).settings.sslMode).toBe(
      "verify-ca",
    );
    expect(violations({ ...good, useSsl: false, sslMode: "verify-full" })).toHaveProperty("useSsl");
    expect(violations({ ...good, sslMode: "sometimes" })).toHaveProperty("sslMode");
  });

  it("holds useSsl to the rule it is answered by: true exactly when sslMode is not disable", () => {
    // What GET answers for every mode is accepted back on PUT.
    for (const sslMode of ["prefer", "require", "verify-ca", "verify-full"]) {
      expect(validateSpec({ ...good, useSsl: true, sslMode }, { kind: "new" }).settings.sslMode).toBe(
        sslMode,
      );
      expect(violations({ ...good, useSsl: false, sslMode })).toHaveProperty("useSsl");
    }
    expect(
      validateSpec({ ...good, useSsl: false, sslMode: "disable" }, { kind: "new" }).settings.sslMode,
    ).toBe("disable");
    expect(violations({ ...good, useSsl: true, sslMode: "disable" })).toHaveProperty("useSsl");
    expect(violations({ ...good, sslMode: "sometimes" })).toHaveProperty("sslMode");
  });

  it("checks certificates and keys without echoing them", () => {
    const v = violations({
      ...good,
      caCertificate: "not a pem",
      clientKey: "-----BEGIN PRIVATE KEY-----\nsecretstuff\n-----END PRIVATE KEY-----",
    });
    expect(v.caCertificate).toMatch(/PEM certificates/);
    expect(v.clientKey).toBe("must be an unencrypted PEM private key");
    expect(JSON.stringify(v)).not.toContain("secretstuff");
  });

  it("validates replicas and refuses duplicates of the primary", () => {
    const v = violations({
      ...good,
      replicas: [
        { server: "db.internal", port: 5432 },
        { server: "", port: 1 },
      ],
    });
    expect(v["replicas[0]"]).toMatch(/duplicates/);
    expect(v["replicas[1].server"]).toMatch(/empty/);
  });

  it("bounds pool settings", () => {
    expect(violations({ ...good, maxPoolSize: 0 })).toHaveProperty("maxPoolSize");
    expect(violations({ ...good, maxPoolSize: 5, minPoolSize: 6 })).toHaveProperty("minPoolSize");
    expect(violations({ ...good, acquireTimeoutMs: 5 })).toHaveProperty("acquireTimeoutMs");
  });
});

describe("host syntax", () => {
  it.each(["db.internal", "localhost", "10.0.0.1", "::1", "a-b.c"])("accepts %s", (h) =>
    expect(hostProblem(h)).toBeUndefined(),
  );
  it.each(["", "bad host", "-a.b", "a..b", "x".repeat(254), "db/1", "a_b.c"])("rejects %j", (h) =>
    expect(hostProblem(h)).toBeTypeOf("string"),
  );
});

describe("scrubbing credentials from server messages", () => {
  it("replaces the user name and password wherever a server quotes them", async () => {
    const { Credentials, scrubSecrets } = await import("../../src/connections/settings.js");
    const c = new Credentials("app_user", "s3cret-pw", undefined);
    expect(scrubSecrets('password authentication failed for user "app_user"', c)).toBe(
      'password authentication failed for user "[redacted]"',
    );
    expect(scrubSecrets("Access denied for user 'app_user'@'10.0.0.1' (using s3cret-pw)", c)).not.toMatch(
      /app_user|s3cret/,
    );
    // A very short name is only replaced where quoted: the rest of the message stays readable.
    const short = new Credentials("a", "", undefined);
    expect(scrubSecrets('role "a" does not exist', short)).toBe('role "[redacted]" does not exist');
    expect(JSON.stringify(c)).not.toMatch(/s3cret/);
  });
});
