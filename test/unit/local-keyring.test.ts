import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalKeyring, openLocalKeyring } from "../../src/crypto/local-keyring.js";
import { CredentialIntegrityError } from "../../src/errors/berth-error.js";

const bind = { connectionId: "00000000-0000-4000-8000-000000000001", field: "password" as const };

describe("local keyring", () => {
  it("creates a 0600 keyring on first start and reopens the same key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-kr-"));
    const first = await openLocalKeyring(dir, undefined);
    const envelope = await first.encrypt("s3cret", bind);
    expect((await stat(join(dir, "keyring.json"))).mode & 0o777).toBe(0o600);
    const again = await openLocalKeyring(dir, undefined);
    expect(await again.decrypt(envelope, bind)).toBe("s3cret");
  });

  it("writes the versioned envelope and never the plaintext", async () => {
    const kr = await openLocalKeyring(await mkdtemp(join(tmpdir(), "berth-kr-")), undefined);
    const envelope = await kr.encrypt("canary-plaintext", bind);
    expect(envelope).toMatch(/^berth:v1:[A-Za-z0-9_-]+$/);
    expect(envelope).not.toContain("canary");
    // A random nonce: the same plaintext never encrypts to the same envelope twice.
    expect(await kr.encrypt("canary-plaintext", bind)).not.toBe(envelope);
  });

  it("rejects a flipped byte, another connection's binding and another field's binding", async () => {
    const kr = new LocalKeyring(new Map([[1, Buffer.alloc(32, 7)]]), 1);
    const envelope = await kr.encrypt("s3cret", bind);
    const body = Buffer.from(envelope.split(":")[2]!, "base64url");
    for (const i of [0, 12, body.length - 1]) {
      const flipped = Buffer.from(body);
      flipped[i]! ^= 0x01;
      await expect(kr.decrypt(`berth:v1:${flipped.toString("base64url")}`, bind)).rejects.toBeInstanceOf(
        CredentialIntegrityError,
      );
    }
    await expect(
      kr.decrypt(envelope, { ...bind, connectionId: "00000000-0000-4000-8000-000000000002" }),
    ).rejects.toThrow(/integrity check/);
    await expect(kr.decrypt(envelope, { ...bind, field: "username" })).rejects.toThrow(/integrity check/);
    await expect(kr.decrypt("berth:v9:AAAA", bind)).rejects.toBeInstanceOf(CredentialIntegrityError);
    await expect(kr.decrypt("not an envelope", bind)).rejects.toBeInstanceOf(CredentialIntegrityError);
  });

  it("decrypts with older key versions and encrypts with the primary", async () => {
    const v1 = new LocalKeyring(new Map([[1, Buffer.alloc(32, 1)]]), 1);
    const old = await v1.encrypt("s3cret", bind);
    const rotated = new LocalKeyring(
      new Map([
        [1, Buffer.alloc(32, 1)],
        [2, Buffer.alloc(32, 2)],
      ]),
      2,
    );
    expect(await rotated.decrypt(old, bind)).toBe("s3cret");
    const fresh = await rotated.encrypt("s3cret", bind);
    expect(rotated.versionOf(fresh)).toBe(2);
  });

  it("uses BERTH_MASTER_KEY without writing a keyring file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-kr-"));
    const kr = await openLocalKeyring(dir, Buffer.alloc(32, 9));
    expect(await kr.decrypt(await kr.encrypt("x", bind), bind)).toBe("x");
    await expect(readFile(join(dir, "keyring.json"))).rejects.toThrow(/ENOENT/);
  });

  it("persists a rotation and a retirement: a restart sees the same versions, dates and minimum", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-ring-rot-"));
    const ring = await openLocalKeyring(dir, undefined);
    const bind = { connectionId: "c", field: "password" as const };
    const v1 = await ring.encrypt("canary-rotation-secret", bind);
    const firstBorn = JSON.parse(await readFile(join(dir, "keyring.json"), "utf8")).keys[0].createdAt;
    expect(await ring.rotate()).toBe(2);
    const reopened = await openLocalKeyring(dir, undefined);
    expect(await reopened.status()).toMatchObject({
      latestVersion: 2,
      minDecryptionVersion: 1,
      rotatable: true,
    });
    expect(await reopened.decrypt(v1, bind)).toBe("canary-rotation-secret");
    expect(reopened.versionOf(await reopened.encrypt("x", bind))).toBe(2);
    await reopened.retire(2);
    const file = JSON.parse(await readFile(join(dir, "keyring.json"), "utf8"));
    expect(file).toMatchObject({ primary: 2, minDecryptionVersion: 2 });
    expect(file.keys.map((k: { version: number }) => k.version)).toEqual([1, 2]);
    expect(file.keys[0].createdAt).toBe(firstBorn);
    expect(file.keys[1].createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    await expect((await openLocalKeyring(dir, undefined)).decrypt(v1, bind)).rejects.toMatchObject({
      details: { reason: "key_version_retired" },
    });
    expect(JSON.stringify(file)).not.toContain("canary-rotation-secret");
  });

  it("refuses to rotate a key given in BERTH_MASTER_KEY", async () => {
    const ring = await openLocalKeyring(await mkdtemp(join(tmpdir(), "berth-ring-mk-")), Buffer.alloc(32, 7));
    await expect(ring.rotate()).rejects.toMatchObject({ kind: "failed_precondition" });
  });
});
