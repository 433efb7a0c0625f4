import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultTransit, type VaultTransitOptions } from "../../src/crypto/vault-transit.js";
import { asBerthError } from "../../src/errors/mapping.js";
import { makeCertificates } from "../support/certs.js";
import { startVaultDouble, type VaultDouble } from "../support/vault-transit-double.js";

const PLAINTEXT = "canary-vault-secret-81f2";
const bind = (connectionId: string, field: "username" | "password" = "password") => ({ connectionId, field });

let vault: VaultDouble;
beforeAll(async () => {
  vault = await startVaultDouble();
  vault.createKey("berth");
});
afterAll(async () => vault?.close());

function provider(extra: Partial<VaultTransitOptions> = {}) {
  return new VaultTransit({
    address: vault.url,
    token: vault.token,
    mount: "transit",
    keyName: "berth",
    timeoutMs: 500,
    retries: 2,
    ...extra,
  });
}

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return asBerthError(err);
  }
  throw new Error("expected a failure");
}

describe("Vault transit key provider (against the transit double)", () => {
  it("encrypts to vault:vN with the record bound as associated data", async () => {
    const p = provider();
    const envelope = await p.encrypt(PLAINTEXT, bind("c1"));
    expect(envelope).toMatch(/^vault:v1:/);
    expect(envelope).not.toContain(PLAINTEXT);
    expect(p.versionOf(envelope)).toBe(1);
    expect(await p.decrypt(envelope, bind("c1"))).toBe(PLAINTEXT);
    // Copied onto another connection or field, the ciphertext does not open.
    expect((await failure(p.decrypt(envelope, bind("c2")))).details.reason).toBe(
      "credential_integrity_failed",
    );
    expect((await failure(p.decrypt(envelope, bind("c1", "username")))).details.reason).toBe(
      "credential_integrity_failed",
    );
    const tampered = `${envelope.slice(0, -6)}AAAAAA`;
    expect((await failure(p.decrypt(tampered, bind("c1")))).details.reason).toBe(
      "credential_integrity_failed",
    );
  });

  it("rotates, rewraps to the newest version, and refuses retired versions", async () => {
    vault.createKey("rot");
    const p = provider({ keyName: "rot" });
    const old = await p.encrypt(PLAINTEXT, bind("c1"));
    expect(await p.rotate()).toBe(2);
    expect(p.versionOf(await p.encrypt(PLAINTEXT, bind("c1")))).toBe(2);
    const rewrapped = await p.rewrap(old, bind("c1"));
    expect(p.versionOf(rewrapped)).toBe(2);
    expect(await p.decrypt(rewrapped, bind("c1"))).toBe(PLAINTEXT);
    // Old versions keep decrypting until retired.
    expect(await p.decrypt(old, bind("c1"))).toBe(PLAINTEXT);
    await p.retire(2);
    expect(await p.status()).toMatchObject({ latestVersion: 2, minDecryptionVersion: 2, provider: "vault" });
    expect((await failure(p.decrypt(old, bind("c1")))).details.reason).toBe("key_version_retired");
    expect((await failure(p.retire(9))).kind).toBe("validation_failed");
  });

  it("a key Vault will not use this way is refused as such, not as a damaged record", async () => {
    vault.createKey("asymmetric", "rsa-2048");
    const e = await failure(provider({ keyName: "asymmetric" }).encrypt(PLAINTEXT, bind("c9")));
    expect([e.kind, e.details.reason, e.details.http_status]).toEqual(["unavailable", "kms_rejected", 400]);
    expect(e.message).toContain("does not support associated data");
  });

  it("never creates a key: a missing one fails the check that runs at start", async () => {
    const e = await failure(provider({ keyName: "nope" }).verify());
    expect(e.kind).toBe("unavailable");
    expect(e.details.reason).toBe("kms_key_missing");
    expect(vault.requests.some((r) => r.path === "/v1/transit/encrypt/nope")).toBe(false);
  });

  it("talks TLS to a Vault whose certificate its CA file vouches for, and refuses one it does not", async () => {
    const certs = makeCertificates();
    const secure = await startVaultDouble({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    try {
      secure.createKey("berth");
      const caFile = `${certs.dir}/ca.crt`;
      const trusted = provider({ address: secure.url, token: secure.token, caCertFile: caFile });
      const envelope = await trusted.encrypt(PLAINTEXT, bind("tls"));
      expect(await trusted.decrypt(envelope, bind("tls"))).toBe(PLAINTEXT);
      const untrusted = provider({ address: secure.url, token: secure.token, retries: 2 });
      const e = await failure(untrusted.encrypt(PLAINTEXT, bind("tls")));
      expect(e.details.reason).toBe("kms_unavailable");
      expect(e.message).toMatch(/certificate/i);
      // Not retried: a certificate does not get more trustworthy by asking again.
      await new Promise((r) => setTimeout(r, 50));
      expect(secure.tlsFailures).toBe(1);
    } finally {
      await secure.close();
    }
  });

  it("sends the namespace, and signs in with AppRole, again when the token expires", async () => {
    const p = provider({
      token: undefined,
      appRole: { ...vault.approle, mount: "approle" },
      namespace: "team-a",
    });
    const envelope = await p.encrypt(PLAINTEXT, bind("c3"));
    expect(vault.requests.filter((r) => r.path === "/v1/auth/approle/login")).toHaveLength(1);
    expect(vault.requests.at(-1)?.namespace).toBe("team-a");
    vault.expireTokens();
    expect(await p.decrypt(envelope, bind("c3"))).toBe(PLAINTEXT);
    expect(vault.requests.filter((r) => r.path === "/v1/auth/approle/login")).toHaveLength(2);
  });

  it("a sealed, stopped or silent Vault answers UNAVAILABLE within the bound, never a plaintext fallback", async () => {
    const p = provider({ timeoutMs: 300, retries: 2 });
    const envelope = await p.encrypt(PLAINTEXT, bind("c4"));
    // Bound: (retries + 1) × timeout + backoff (≤ 100 + 200 ms).
    const bound = 3 * 300 + 300 + 400;
    vault.seal();
    let t0 = performance.now();
    let e = await failure(p.decrypt(envelope, bind("c4")));
    expect([e.kind, e.details.reason, e.details.http_status]).toEqual([
      "unavailable",
      "kms_unavailable",
      503,
    ]);
    expect(e.message).toContain("Vault is sealed");
    expect(e.message).not.toContain(PLAINTEXT);
    expect(performance.now() - t0).toBeLessThan(bound);
    vault.unseal();

    vault.delayMs = 2000;
    t0 = performance.now();
    e = await failure(p.decrypt(envelope, bind("c4")));
    expect(e.details.reason).toBe("kms_unavailable");
    expect(performance.now() - t0).toBeLessThan(bound);
    vault.delayMs = 0;

    await vault.stop();
    t0 = performance.now();
    e = await failure(p.encrypt(PLAINTEXT, bind("c4")));
    expect(e.details.reason).toBe("kms_unavailable");
    expect(performance.now() - t0).toBeLessThan(bound);
    await vault.start();
    // Back on its own: no restart, no reconfiguration.
    expect(await p.decrypt(envelope, bind("c4"))).toBe(PLAINTEXT);
  });
});
