import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defaultTargetRules, parseTargetList } from "../../src/config/target-rules.js";
import { testConnection } from "../../src/connections/checks.js";
import { Credentials, type SshSecrets } from "../../src/connections/settings.js";
import { guardDriver } from "../../src/connections/target-guard.js";
import { createTargetPolicy } from "../../src/connections/target-policy.js";
import { PLAIN } from "../../src/connections/tls-plan.js";
import { validateSpec } from "../../src/connections/validation.js";
import { SshTunnel } from "../../src/drivers/ssh/tunnel.js";
import { mysqlDriver } from "../../src/engines/mysql/driver.js";
import { postgresDriver } from "../../src/engines/postgresql/driver.js";
import { type CheckResult, CheckStage } from "../../src/gen/berth/v1/types_pb.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { type Sshd, startSshd, type TestKey } from "../support/sshd.js";

/**
 * The staged test through a real OpenSSH server (test/support/sshd.ts) to the local PostgreSQL and
 * MariaDB: every key type signs in and reaches the database; each way it can go wrong stops at
 * its own stage with its own reason, and the host key the server presented is shown.
 */
const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
}, 60_000);
afterAll(async () => {
  await sshd?.close();
});

const secretsOf = (key: TestKey): SshSecrets => ({
  privateKey: key.privateKey,
  passphrase: key.passphrase,
  password: undefined,
});

function specFor(
  engine: "postgres" | "mariadb",
  hostKey: string,
  overrides: { port?: number; server?: string } = {},
) {
  const local = LOCAL[engine];
  return validateSpec(
    {
      name: "tunnelled",
      type: engine === "postgres" ? "postgresql" : "mysql",
      server: overrides.server ?? "127.0.0.1",
      port: overrides.port ?? local.port,
      database: local.database,
      username: local.user,
      password: "",
      sslMode: "disable",
      ssh: {
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        hostKey,
        privateKey: sshd.keys.ed25519.privateKey,
      },
    },
    { kind: "new" },
  ).settings;
}

async function run(
  engine: "postgres" | "mariadb",
  key: TestKey,
  hostKey: string,
  overrides: { port?: number } = {},
): Promise<CheckResult> {
  const local = LOCAL[engine];
  const driver = engine === "postgres" ? postgresDriver : mysqlDriver;
  const credentials = new Credentials(local.user, "", undefined, secretsOf(key));
  return (await testConnection(driver, specFor(engine, hostKey, overrides), credentials, 10_000)).result;
}

const outline = (r: CheckResult) =>
  r.stages.map(
    (s) => `${CheckStage[s.stage]!.toLowerCase()}:${["", "passed", "failed", "skipped"][s.outcome]}`,
  );

function failed(r: CheckResult) {
  const s = r.stages.find((x) => x.reason !== "")!;
  return {
    stage: CheckStage[s.stage]!.toLowerCase(),
    reason: s.reason,
    message: s.message,
    details: s.details,
    remedy: s.remedy,
  };
}

describe.each([
  { engine: "postgres" as const, available: hasPostgres },
  { engine: "mariadb" as const, available: hasMariadb },
])("$engine through the tunnel", ({ engine, available }) => {
  it.skipIf(!available).each(["ed25519", "ecdsaEncrypted", "rsa"] as const)(
    "signs in with an %s key and passes every stage, the ssh ones first",
    async (kind) => {
      const r = await run(engine, sshd.keys[kind], sshd.hostKey);
      expect(r.ok, JSON.stringify(r.stages.map((s) => [s.stage, s.reason, s.message]))).toBe(true);
      expect(outline(r)).toEqual([
        "ssh_dns:passed",
        "ssh_tcp:passed",
        "ssh_handshake:passed",
        "ssh_host_key:passed",
        "ssh_auth:passed",
        "ssh_forward:passed",
        "dns:skipped",
        "tcp:skipped",
        "tls:skipped",
        "auth:passed",
        "query:passed",
      ]);
      expect(r.serverVersion).not.toBe("");
      expect(r.target).toContain(`via ssh root@127.0.0.1:${sshd.port}`);
    },
  );

  it.skipIf(!available)(
    "without a pinned host key: ssh_host_key fails, showing the key to confirm",
    async () => {
      const r = await run(engine, sshd.keys.ed25519, "");
      expect(failed(r)).toMatchObject({ stage: "ssh_host_key", reason: "ssh_host_key_unknown" });
      expect(failed(r).details.host_key).toBe(sshd.hostKey);
      expect(failed(r).details.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(failed(r).remedy).toMatch(/ssh\.hostKey/);
      // The handshake stage shows the key too, whatever the verdict.
      expect(r.stages.find((s) => s.stage === CheckStage.SSH_HANDSHAKE)!.details.host_key).toBe(sshd.hostKey);
    },
  );

  it.skipIf(!available)("a key the server does not know: ssh_auth fails with ssh_auth_failed", async () => {
    const r = await run(engine, sshd.keys.stranger, sshd.hostKey);
    expect(failed(r)).toMatchObject({ stage: "ssh_auth", reason: "ssh_auth_failed" });
    expect(outline(r).slice(0, 5)).toEqual([
      "ssh_dns:passed",
      "ssh_tcp:passed",
      "ssh_handshake:passed",
      "ssh_host_key:passed",
      "ssh_auth:failed",
    ]);
  });

  it.skipIf(!available)(
    "a database port nothing listens on: ssh_forward fails with ssh_forward_failed",
    async () => {
      const r = await run(engine, sshd.keys.ed25519, sshd.hostKey, { port: 1 });
      expect(failed(r)).toMatchObject({ stage: "ssh_forward", reason: "ssh_forward_failed" });
    },
  );
});

describe.skipIf(!hasPostgres || !hasMariadb)("a port that is not an SSH server", () => {
  it.each([
    ["PostgreSQL's, which waits for the client", LOCAL.postgres.port],
    ["MariaDB's, which greets first", LOCAL.mariadb.port],
  ])("%s: ssh_handshake fails with ssh_handshake_failed", async (_what, port) => {
    const settings = specFor("postgres", sshd.hostKey);
    const credentials = new Credentials("postgres", "", undefined, secretsOf(sshd.keys.ed25519));
    const { result } = await testConnection(
      postgresDriver,
      { ...settings, ssh: { ...settings.ssh!, port } },
      credentials,
      5000,
    );
    expect(failed(result)).toMatchObject({ stage: "ssh_handshake", reason: "ssh_handshake_failed" });
  });
});

describe.skipIf(!hasPostgres)("the SSH server itself changes", () => {
  it("killed: ssh_tcp fails with connection_refused; back: passes again", async () => {
    await sshd.kill();
    try {
      const r = await run("postgres", sshd.keys.ed25519, sshd.hostKey);
      expect(failed(r)).toMatchObject({ stage: "ssh_tcp", reason: "connection_refused" });
    } finally {
      await sshd.start();
    }
    expect((await run("postgres", sshd.keys.ed25519, sshd.hostKey)).ok).toBe(true);
  });

  it("a changed host key: ssh_host_key fails with ssh_host_key_changed, showing the new key", async () => {
    const pinned = sshd.hostKey;
    await sshd.kill();
    const fresh = await sshd.changeHostKey();
    await sshd.start();
    const r = await run("postgres", sshd.keys.ed25519, pinned);
    expect(failed(r)).toMatchObject({ stage: "ssh_host_key", reason: "ssh_host_key_changed" });
    expect(failed(r).details.host_key).toBe(fresh);
    expect(failed(r).remedy).toMatch(/intercept/);
    expect(outline(r).slice(6)).toEqual([
      "dns:skipped",
      "tcp:skipped",
      "tls:skipped",
      "auth:skipped",
      "query:skipped",
    ]);
  });
});

describe.skipIf(!hasPostgres)("the target policy", () => {
  const denyLoopback = createTargetPolicy({
    ...defaultTargetRules(),
    denied: parseTargetList("127.0.0.0/8").rules,
  });

  it("holds the bastion to it in the staged test: ssh_dns fails with target_denied, nothing is sent", async () => {
    const credentials = new Credentials("postgres", "", undefined, secretsOf(sshd.keys.ed25519));
    const { result } = await testConnection(
      postgresDriver,
      specFor("postgres", sshd.hostKey),
      credentials,
      5000,
      denyLoopback,
    );
    expect(failed(result)).toMatchObject({ stage: "ssh_dns", reason: "target_denied" });
  });

  it("holds the bastion to it when a pool opens a session through the tunnel", async () => {
    const guarded = guardDriver(postgresDriver, denyLoopback);
    const settings = specFor("postgres", sshd.hostKey);
    const params = {
      host: "127.0.0.1",
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      credentials: new Credentials("postgres", "", undefined, secretsOf(sshd.keys.ed25519)),
      tls: PLAIN,
      connectTimeoutMs: 5000,
      engineOptions: settings.engineOptions,
      ssh: settings.ssh,
    };
    const err = await guarded.connect(params).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(guarded.describeError(err).reason).toBe("target_denied");
    // Allowed, the same call opens a session through the tunnel.
    const session = await guardDriver(postgresDriver, createTargetPolicy()).connect(params);
    try {
      expect(await session.serverVersion()).toMatch(/\d/);
    } finally {
      await session.close();
    }
  });

  describe("the database behind the bastion", () => {
    const METADATA = "169.254.169.254";

    it("is refused in the staged test when it is an address the policy denies: no forward is asked for", async () => {
      const forward = vi.spyOn(SshTunnel.prototype, "forward");
      try {
        const credentials = new Credentials("postgres", "", undefined, secretsOf(sshd.keys.ed25519));
        const { result } = await testConnection(
          postgresDriver,
          specFor("postgres", sshd.hostKey, { server: METADATA }),
          credentials,
          5000,
          createTargetPolicy(),
        );
        expect(failed(result)).toMatchObject({ stage: "ssh_forward", reason: "target_denied" });
        expect(failed(result).message).toMatch(/169\.254\.169\.254: link-local and cloud metadata/);
        expect(forward).not.toHaveBeenCalled();
      } finally {
        forward.mockRestore();
      }
    });

    it("is refused when a pool opens a session, before the tunnel opens; BERTH_ALLOWED_TARGETS holds too", async () => {
      const forward = vi.spyOn(SshTunnel.prototype, "forward");
      const connectTo = (host: string, policy = createTargetPolicy()) =>
        guardDriver(postgresDriver, policy)
          .connect({
            host,
            port: LOCAL.postgres.port,
            database: LOCAL.postgres.database,
            credentials: new Credentials("postgres", "", undefined, secretsOf(sshd.keys.ed25519)),
            tls: PLAIN,
            connectTimeoutMs: 5000,
            engineOptions: specFor("postgres", sshd.hostKey).engineOptions,
            ssh: specFor("postgres", sshd.hostKey).ssh,
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
      try {
        const denied = await connectTo(METADATA);
        expect(guardDriver(postgresDriver, createTargetPolicy()).describeError(denied)).toMatchObject({
          reason: "target_denied",
          message: expect.stringMatching(/link-local and cloud metadata/),
        });
        // An allowlist naming only the bastion's address: a database address outside it is refused.
        const onlyBastion = createTargetPolicy({
          ...defaultTargetRules(),
          allowed: parseTargetList(`${sshd.host}/32`).rules,
        });
        const outside = await connectTo("10.1.2.3", onlyBastion);
        expect((outside as Error).message).toMatch(/BERTH_ALLOWED_TARGETS does not list it/);
        expect(forward).not.toHaveBeenCalled();
      } finally {
        forward.mockRestore();
      }
    });
  });
});
