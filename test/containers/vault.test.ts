import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultTransit } from "../../src/crypto/vault-transit.js";
import { containerRuntime } from "../support/containers.js";

const runtime = await containerRuntime();
const ROOT_TOKEN = "berth-test-root";

/** The same provider checks as against the transit double, against a real Vault dev server. */
describe.skipIf(!runtime.available)(
  `Vault transit, real Vault in a container (${runtime.reason || "engine found"})`,
  () => {
    let container: StartedTestContainer;
    let provider: VaultTransit;

    beforeAll(async () => {
      container = await new GenericContainer("hashicorp/vault:1.17")
        .withEnvironment({ VAULT_DEV_ROOT_TOKEN_ID: ROOT_TOKEN, VAULT_DEV_LISTEN_ADDRESS: "0.0.0.0:8200" })
        .withAddedCapabilities("IPC_LOCK")
        .withExposedPorts(8200)
        .withWaitStrategy(Wait.forHttp("/v1/sys/health", 8200))
        .start();
      const vault = ["env", "VAULT_ADDR=http://127.0.0.1:8200", `VAULT_TOKEN=${ROOT_TOKEN}`, "vault"];
      await container.exec([...vault, "secrets", "enable", "transit"]);
      await container.exec([...vault, "write", "-f", "transit/keys/berth"]);
      provider = new VaultTransit({
        address: `http://${container.getHost()}:${container.getMappedPort(8200)}`,
        token: ROOT_TOKEN,
        mount: "transit",
        keyName: "berth",
        timeoutMs: 2000,
        retries: 2,
      });
    }, 300_000);
    afterAll(async () => container?.stop());

    it("encrypts with associated data, rotates, rewraps and retires as the double does", async () => {
      const bind = { connectionId: "c1", field: "password" as const };
      const v1 = await provider.encrypt("real-vault-canary", bind);
      expect(v1).toMatch(/^vault:v1:/);
      expect(await provider.decrypt(v1, bind)).toBe("real-vault-canary");
      await expect(provider.decrypt(v1, { ...bind, connectionId: "c2" })).rejects.toMatchObject({
        details: { reason: "credential_integrity_failed" },
      });
      expect(await provider.rotate()).toBe(2);
      const v2 = await provider.rewrap(v1, bind);
      expect(provider.versionOf(v2)).toBe(2);
      await provider.retire(2);
      await expect(provider.decrypt(v1, bind)).rejects.toMatchObject({
        details: { reason: "key_version_retired" },
      });
      expect(await provider.decrypt(v2, bind)).toBe("real-vault-canary");
    });

    it("refuses to use a key that does not exist", async () => {
      const missing = new VaultTransit({
        address: `http://${container.getHost()}:${container.getMappedPort(8200)}`,
        token: ROOT_TOKEN,
        mount: "transit",
        keyName: "absent",
        timeoutMs: 2000,
        retries: 0,
      });
      await expect(missing.verify()).rejects.toMatchObject({ details: { reason: "kms_key_missing" } });
    });
  },
);
