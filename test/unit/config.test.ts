import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

describe("configuration", () => {
  it("has a default for everything", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "./data",
      testTimeoutMs: 5000,
      logLevel: "info",
    });
    expect(c.masterKey).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("names every bad variable with a reason, and never its value", () => {
    try {
      loadConfig({ BERTH_PORT: "70000", BERTH_MASTER_KEY: "c2hvcnQ=", BERTH_ADMIN_PASSWORD: "tiny-secret" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/BERTH_PORT/);
      expect(msg).toMatch(/BERTH_MASTER_KEY: must be 32 bytes/);
      expect(msg).toMatch(/BERTH_ADMIN_PASSWORD: must be at least 12/);
      expect(msg).not.toContain("tiny-secret");
    }
  });

  // The schema is assembled from one module per area (src/config/*-variables.ts, *-settings.ts);
  // the problems keep one order across areas, so that a message reads the same from start to start.
  it("lists the bad variables of every area in one order: the schema's, then the rules between them", () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems.map((p) => p.slice(0, p.indexOf(":")));
      }
      return expect.unreachable();
    };
    expect(
      problemsOf({
        BERTH_TLS_CLIENT_AUTH: "maybe",
        BERTH_KMS: "aws",
        BERTH_AUDIT_EXPORT: "syslog",
        BERTH_GOOGLE_JWKS_URL: "nope",
        BERTH_METRICS_TOKEN: "short",
        BERTH_PG_PORT: "-1",
        BERTH_LOG_LEVEL: "loud",
        BERTH_STORE_URL: "nope",
        BERTH_PORT: "70000",
      }),
    ).toEqual([
      "BERTH_PORT",
      "BERTH_STORE_URL",
      "BERTH_LOG_LEVEL",
      "BERTH_PG_PORT",
      "BERTH_METRICS_TOKEN",
      "BERTH_GOOGLE_JWKS_URL",
      "BERTH_AUDIT_EXPORT",
      "BERTH_KMS",
      "BERTH_TLS_CLIENT_AUTH",
    ]);
    expect(
      problemsOf({
        BERTH_ALLOWED_TARGETS: " , ",
        BERTH_TLS_CLIENT_CA_FILE: "ca.pem",
        BERTH_TLS_KEY_FILE: "key.pem",
        BERTH_VAULT_ROLE_ID: "role",
        BERTH_VAULT_ADDR: "http://vault:8200",
        BERTH_STORE_URL: "postgres://h/d",
      }),
    ).toEqual([
      "BERTH_MASTER_KEY",
      "BERTH_VAULT_TOKEN",
      "BERTH_VAULT_SECRET_ID",
      "BERTH_TLS_KEY_FILE",
      "BERTH_TLS_CLIENT_CA_FILE",
      "BERTH_ALLOWED_TARGETS",
    ]);
  });

  it("puts the audit checkpoints beside the store by default, and checks the export target", () => {
    expect(loadConfig({ BERTH_DATA_DIR: "/var/lib/berth" }).audit).toEqual({
      checkpointFile: "/var/lib/berth/audit-checkpoints.jsonl",
      checkpointEvery: 100,
      checkpointIntervalMs: 60_000,
      export: undefined,
    });
    expect(loadConfig({ BERTH_AUDIT_EXPORT: "file:/var/log/berth-audit.jsonl" }).audit.export).toBe(
      "file:/var/log/berth-audit.jsonl",
    );
    expect(() => loadConfig({ BERTH_AUDIT_EXPORT: "syslog" })).toThrow(
      /BERTH_AUDIT_EXPORT: must be "stdout" or "file:<path>"/,
    );
  });

  it("requires BERTH_MASTER_KEY in shared mode unless Vault is the key provider", () => {
    const url = "postgres://berth:s3cret-pw@db.internal:5432/berth";
    expect(() => loadConfig({ BERTH_STORE_URL: url })).toThrow(
      /BERTH_MASTER_KEY: is required with BERTH_STORE_URL \(shared mode\) unless BERTH_KMS=vault/,
    );
    const vault = { BERTH_KMS: "vault", BERTH_VAULT_ADDR: "http://vault:8200", BERTH_VAULT_TOKEN: "t" };
    expect(loadConfig({ BERTH_STORE_URL: url, ...vault }).kms).toBe("vault");
    // SQLite keeps its keyring file: no master key needed.
    expect(loadConfig({}).masterKey).toBeUndefined();
  });

  it("takes BERTH_MASTER_KEY_PREVIOUS only to replace a shared store's master key, never quoting it", () => {
    const url = "postgres://db/berth";
    const now = Buffer.alloc(32, 1).toString("base64");
    const before = Buffer.alloc(32, 2).toString("base64");
    const c = loadConfig({ BERTH_STORE_URL: url, BERTH_MASTER_KEY: now, BERTH_MASTER_KEY_PREVIOUS: before });
    expect(c.previousMasterKey).toEqual(Buffer.alloc(32, 2));
    expect(loadConfig({ BERTH_STORE_URL: url, BERTH_MASTER_KEY: now }).previousMasterKey).toBeUndefined();
    const refused = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toContain(before);
        return (err as Error).message;
      }
      return "";
    };
    expect(refused({ BERTH_MASTER_KEY: now, BERTH_MASTER_KEY_PREVIOUS: before })).toMatch(
      /BERTH_MASTER_KEY_PREVIOUS: is only for replacing the master key of a shared store/,
    );
    expect(
      refused({ BERTH_STORE_URL: url, BERTH_MASTER_KEY: before, BERTH_MASTER_KEY_PREVIOUS: before }),
    ).toMatch(/BERTH_MASTER_KEY_PREVIOUS: is the same key as BERTH_MASTER_KEY/);
    expect(
      refused({ BERTH_STORE_URL: url, BERTH_MASTER_KEY: now, BERTH_MASTER_KEY_PREVIOUS: "c2hvcnQ=" }),
    ).toMatch(/BERTH_MASTER_KEY_PREVIOUS: must be 32 bytes/);
  });

  it("takes a postgres:// store URL, SQLite in the data directory without one, and never echoes it", () => {
    expect(loadConfig({}).storeUrl).toBeUndefined();
    const url =
      "postgres://berth:s3cret-pw@db.internal:5432/berth?sslmode=verify-full&sslrootcert=/etc/ca.pem";
    const key = { BERTH_MASTER_KEY: Buffer.alloc(32, 7).toString("base64") };
    expect(loadConfig({ BERTH_STORE_URL: url, ...key }).storeUrl).toBe(url);
    expect(loadConfig({ BERTH_STORE_URL: "postgresql://db/berth", ...key }).storeUrl).toBe(
      "postgresql://db/berth",
    );
    // A Unix socket directory, as pg takes it.
    const socket = "postgres:///berth?host=/var/run/postgresql";
    expect(loadConfig({ BERTH_STORE_URL: socket, ...key }).storeUrl).toBe(socket);
    const problem = (value: string) => {
      try {
        loadConfig({ BERTH_STORE_URL: value });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toContain("canary-pw");
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(problem("not a url canary-pw")).toMatch(/BERTH_STORE_URL: must be a URL/);
    expect(problem("mysql://u:canary-pw@db/berth")).toMatch(/BERTH_STORE_URL: must be a postgres:\/\//);
    expect(problem("postgres://u:canary-pw@db")).toMatch(/BERTH_STORE_URL: must name the database/);
    expect(problem("postgres:///berth")).toMatch(/BERTH_STORE_URL: must name the server/);
    expect(problem("postgres://u:canary-pw@db/berth?sslmode=maybe")).toMatch(
      /BERTH_STORE_URL: sslmode must be one of disable, prefer, require, verify-ca, verify-full, no-verify/,
    );
  });

  it("decodes a base64 master key", () => {
    const key = Buffer.alloc(32, 3).toString("base64");
    expect(loadConfig({ BERTH_MASTER_KEY: key }).masterKey).toEqual(Buffer.alloc(32, 3));
  });
});
