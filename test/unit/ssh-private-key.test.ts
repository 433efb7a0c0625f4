import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateSpec } from "../../src/connections/validation.js";
import { decryptionsRunning } from "../../src/drivers/ssh/key-decryptor.js";
import {
  MAX_KDF_ROUNDS,
  openSshKeyHeaderProblem,
  parsePrivateKey,
  warmPrivateKey,
} from "../../src/drivers/ssh/private-key.js";
import { ValidationError } from "../../src/errors/berth-error.js";

const dir = mkdtempSync(join(tmpdir(), "berth-ssh-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSPHRASE = "secret passphrase";

function keygen(name: string, rounds: number, extra: string[] = ["-t", "ed25519"]): string {
  const file = join(dir, name);
  const args = ["-q", ...extra, "-a", String(rounds), "-N", PASSPHRASE, "-C", "c", "-f", file];
  execFileSync("ssh-keygen", args);
  return readFileSync(file, "utf8");
}

/** The longest the event loop went without running a 5 ms timer while `work` ran. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(probe);
  }
  return Math.max(longest, performance.now() - last);
}

/** The key's bytes between the armor lines, and a way to armor changed bytes again. */
function body(key: string): Buffer {
  const b64 = key
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
  return Buffer.from(b64, "base64");
}
function armor(data: Buffer): string {
  const lines = data.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** Offset of the kdfoptions' rounds: magic, cipher string, kdf name string, kdfoptions length, salt. */
function roundsOffset(data: Buffer): number {
  let at = 15;
  at += 4 + data.readUInt32BE(at); // ciphername
  at += 4 + data.readUInt32BE(at); // kdfname
  at += 4; // kdfoptions length
  at += 4 + data.readUInt32BE(at); // salt
  return at;
}

function withRounds(key: string, rounds: number): string {
  const data = Buffer.from(body(key));
  data.writeUInt32BE(rounds, roundsOffset(data));
  return armor(data);
}

const base = {
  name: "db",
  type: "postgresql",
  server: "db.internal",
  database: "app",
  username: "app",
  password: "pw",
};
const ssh = { host: "bastion.example.com", user: "tunnel", hostKey: "" };

function violations(privateKey: string, passphrase = PASSPHRASE): Record<string, string> {
  try {
    validateSpec({ ...base, ssh: { ...ssh, privateKey, passphrase } }, { kind: "new" });
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return Object.fromEntries((err as ValidationError).violations.map((v) => [v.field, v.description]));
  }
  return {};
}

const normal = keygen("normal", 4);

describe("encrypted OpenSSH private keys", () => {
  it("refuse a key asking for 2^20 bcrypt rounds at once, with the bound in the reason", () => {
    const heavy = withRounds(normal, 2 ** 20);
    const started = performance.now();
    const found = violations(heavy);
    expect(performance.now() - started).toBeLessThan(200);
    expect(found["ssh.privateKey"]).toMatch(`1048576 bcrypt rounds; at most ${MAX_KDF_ROUNDS}`);
    // The sign-in's own parse refuses it the same way (it never reaches bcrypt either).
    const parsed = parsePrivateKey(heavy, PASSPHRASE);
    expect(parsed).toBeInstanceOf(Error);
  });

  it("accept the bound itself, and refuse one round more", () => {
    expect(openSshKeyHeaderProblem(withRounds(normal, MAX_KDF_ROUNDS))).toBeUndefined();
    expect(openSshKeyHeaderProblem(withRounds(normal, MAX_KDF_ROUNDS + 1))).toMatch("bcrypt rounds");
  });

  it("refuse truncated and malformed headers with a fixed reason, never throwing", () => {
    const data = body(normal);
    const cut = roundsOffset(data);
    for (const length of [10, 16, 20, 30, cut, cut + 2]) {
      const found = violations(armor(data.subarray(0, length)));
      expect(found["ssh.privateKey"], `cut at ${length}`).toMatch(/is not a private key ssh can read/);
    }
    // A salt length pointing past the kdf options.
    const lying = Buffer.from(data);
    lying.writeUInt32BE(0xffffff, cut - 4 - 16);
    expect(violations(armor(lying))["ssh.privateKey"]).toMatch(/is not a private key ssh can read/);
    const badMagic = Buffer.from(data);
    badMagic.write("openssh-key-v2", 0, "latin1");
    expect(violations(armor(badMagic))["ssh.privateKey"]).toMatch(/is not a private key ssh can read/);
  });

  it("decrypt a sound key once: validating it again (every staged test) pays no KDF", () => {
    const key = keygen("cached", 16);
    const first = performance.now();
    expect(violations(key)).toEqual({});
    const firstMs = performance.now() - first;
    const again = performance.now();
    expect(violations(key)).toEqual({});
    const againMs = performance.now() - again;
    expect(againMs).toBeLessThan(firstMs / 4);
    // A wrong passphrase is its own entry, not the right one's answer.
    expect(violations(key, "wrong")["ssh.passphrase"]).toMatch("cannot be decrypted");
  });

  it("decrypt in a worker thread: the event loop keeps running, and validation then finds the key", async () => {
    const key = keygen("worker", 32);
    const stall = await longestStall(() => warmPrivateKey(key, PASSPHRASE));
    expect(stall).toBeLessThan(200);
    const started = performance.now();
    expect(violations(key)).toEqual({});
    expect(performance.now() - started).toBeLessThan(100);
    // The key re-exported unencrypted is the same key: ssh2's own parse of it with the passphrase agrees.
    const mine = parsePrivateKey(key, PASSPHRASE);
    if (mine instanceof Error) throw mine;
    const { utils } = await import("ssh2");
    const theirs = utils.parseKey(key, PASSPHRASE);
    if (theirs instanceof Error || Array.isArray(theirs)) throw new Error("ssh2 could not parse the key");
    expect(mine.getPublicSSH().equals(theirs.getPublicSSH())).toBe(true);
    expect(mine.getPrivatePEM()).toBe(theirs.getPrivatePEM());
  });

  it.each([
    ["aes256-gcm@openssh.com", ["-t", "ecdsa", "-Z", "aes256-gcm@openssh.com"]],
    ["aes128-ctr", ["-t", "rsa", "-b", "2048", "-Z", "aes128-ctr"]],
  ])("decrypt %s keys in the worker, and tell a wrong passphrase", async (cipher, extra) => {
    const key = keygen(`worker-${cipher}`, 4, extra);
    await warmPrivateKey(key, PASSPHRASE);
    await warmPrivateKey(key, "not it");
    const started = performance.now();
    expect(violations(key)).toEqual({});
    expect(violations(key, "not it")["ssh.passphrase"]).toMatch("cannot be decrypted");
    expect(performance.now() - started).toBeLessThan(100);
  });

  it("decrypt many keys at once two threads at a time, every one of them", async () => {
    const keys = Array.from({ length: 6 }, (_, i) => keygen(`many-${i}`, 8));
    let most = 0;
    const probe = setInterval(() => {
      most = Math.max(most, decryptionsRunning());
    }, 2);
    try {
      await Promise.all(keys.map((key) => warmPrivateKey(key, PASSPHRASE)));
    } finally {
      clearInterval(probe);
    }
    expect(most).toBe(2);
    for (const key of keys) expect(violations(key)).toEqual({});
  });

  it("give up on a worker that takes too long, refusing the key with a reason", async () => {
    const key = keygen("slow", 16);
    await warmPrivateKey(key, PASSPHRASE, 1);
    expect(violations(key)["ssh.privateKey"]).toMatch("could not be decrypted within 1 ms");
    // Refused for that attempt only: the next one decrypts it.
    await warmPrivateKey(key, PASSPHRASE);
    expect(violations(key)).toEqual({});
  });
});
