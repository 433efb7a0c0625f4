import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateSpec } from "../../src/connections/validation.js";
import {
  MAX_KDF_ROUNDS,
  openSshKeyHeaderProblem,
  parsePrivateKey,
} from "../../src/drivers/ssh/private-key.js";
import { ValidationError } from "../../src/errors/berth-error.js";

const dir = mkdtempSync(join(tmpdir(), "berth-ssh-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSPHRASE = "secret passphrase";

function keygen(name: string, rounds: number): string {
  const file = join(dir, name);
  execFileSync("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-a",
    String(rounds),
    "-N",
    PASSPHRASE,
    "-C",
    "c",
    "-f",
    file,
  ]);
  return readFileSync(file, "utf8");
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
});
