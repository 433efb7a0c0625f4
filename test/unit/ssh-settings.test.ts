import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { endpointChanges, requireCredentialsFor } from "../../src/connections/endpoint-change.js";
import { Credentials, scrubSecrets } from "../../src/connections/settings.js";
import { validateSpec } from "../../src/connections/validation.js";
import { fingerprint, parseHostKey } from "../../src/drivers/ssh/host-key.js";
import { ValidationError } from "../../src/errors/berth-error.js";

const dir = mkdtempSync(join(tmpdir(), "berth-ssh-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, type: string, passphrase = ""): { key: string; pub: string } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", "c", "-f", file]);
  return { key: readFileSync(file, "utf8"), pub: readFileSync(`${file}.pub`, "utf8").trim() };
}

const ed = keygen("ed", "ed25519");
const encrypted = keygen("enc", "ed25519", "secret passphrase");
const hostKey = ed.pub.split(" ").slice(0, 2).join(" ");

const base = {
  name: "behind-bastion",
  type: "postgresql",
  server: "db.internal",
  database: "app",
  username: "app",
  password: "pw",
};
const ssh = { host: "bastion.example.com", user: "tunnel", privateKey: ed.key, hostKey };

function violations(input: object, mode: Parameters<typeof validateSpec>[1] = { kind: "new" }) {
  try {
    validateSpec(input, mode);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return Object.fromEntries((err as ValidationError).violations.map((v) => [v.field, v.description]));
  }
  return {};
}

describe("ssh fields", () => {
  it("default the port to 22, keep the pinned key in known_hosts key form, and carry the secrets apart", () => {
    const { settings, credentials } = validateSpec(
      { ...base, ssh: { ...ssh, hostKey: `bastion.example.com ${hostKey} comment` } },
      { kind: "new" },
    );
    expect(settings.ssh).toEqual({
      host: "bastion.example.com",
      port: 22,
      user: "tunnel",
      hostKey,
      stored: { privateKey: true, passphrase: false, password: false },
    });
    expect(credentials.ssh?.privateKey).toBe(ed.key);
    // Nothing secret in the settings, which are shown and logged.
    expect(JSON.stringify(settings)).not.toContain("PRIVATE KEY");
  });

  it("each have a reason when wrong", () => {
    expect(
      violations({
        ...base,
        ssh: {
          host: "bad host!",
          port: 70000,
          user: "",
          hostKey: "ssh-ed25519 notbase64!",
          privateKey: "nope",
        },
      }),
    ).toMatchObject({
      "ssh.host": expect.stringMatching(/DNS name/),
      "ssh.port": expect.stringMatching(/1 to 65535/),
      "ssh.user": "is required: the user to sign in to the SSH server as",
      "ssh.hostKey": expect.stringMatching(/base64/),
      "ssh.privateKey": expect.stringMatching(/not a private key/),
    });
    expect(
      violations({ ...base, ssh: { ...ssh, hostKey: "ssh-dss AAAAB3NzaC1kc3MAAACBAP" } })["ssh.hostKey"],
    ).toMatch(/known_hosts format/);
    // A key of one type labelled as another.
    const rsaBlob = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from("ssh-rsa"), Buffer.alloc(8)]);
    expect(
      violations({ ...base, ssh: { ...ssh, hostKey: `ssh-ed25519 ${rsaBlob.toString("base64")}` } })[
        "ssh.hostKey"
      ],
    ).toBe("the base64 is not a ssh-ed25519 key");
    expect(violations({ ...base, ssh: { host: "b", user: "u" } })["ssh.privateKey"]).toMatch(
      /or ssh.password/,
    );
    expect(violations({ ...base, ssh: { user: "u" } })["ssh.host"]).toMatch(/is required/);
    expect(violations({ ...base, type: "sqlserver", ssh })).toEqual({
      ssh: "applies only to PostgreSQL and MySQL connections (their drivers take the tunnel's channel)",
    });
    expect(
      violations({ ...base, ssh: { ...ssh, privateKey: undefined, passphrase: "x", password: "p" } }),
    ).toEqual({
      "ssh.passphrase": "goes with ssh.privateKey: it decrypts that key",
    });
    expect(violations({ ...base, ssh: { ...ssh, privateKey: undefined, password: "a\0b" } })).toEqual({
      "ssh.password": "must not contain NUL characters",
    });
  });

  it("check an encrypted key against its passphrase, never echoing either", () => {
    const missing = violations({ ...base, ssh: { ...ssh, privateKey: encrypted.key } });
    expect(missing).toEqual({ "ssh.privateKey": "is encrypted: give its passphrase" });
    const wrong = violations({
      ...base,
      ssh: { ...ssh, privateKey: encrypted.key, passphrase: "wrong one" },
    });
    expect(wrong).toEqual({ "ssh.passphrase": "cannot be decrypted with the passphrase given" });
    expect(
      validateSpec(
        { ...base, ssh: { ...ssh, privateKey: encrypted.key, passphrase: "secret passphrase" } },
        { kind: "new" },
      ).settings.ssh?.stored,
    ).toEqual({ privateKey: true, passphrase: true, password: false });
  });

  it("on update keep stored secrets when none are sent, and replace all three when any is", () => {
    const stored = { privateKey: true, passphrase: false, password: false };
    const kept = validateSpec(
      { ...base, ssh: { host: "b.example", user: "u" } },
      { kind: "update", hasStoredClientKey: false, storedSsh: stored },
    );
    expect(kept.settings.ssh?.stored).toEqual(stored);
    expect(kept.credentials.ssh).toBeUndefined();
    const replaced = validateSpec(
      { ...base, ssh: { host: "b.example", user: "u", password: "pw2" } },
      { kind: "update", hasStoredClientKey: false, storedSsh: stored },
    );
    expect(replaced.settings.ssh?.stored).toEqual({ privateKey: false, passphrase: false, password: true });
  });
});

describe("the endpoint rule with a bastion", () => {
  const before = validateSpec({ ...base, ssh }, { kind: "new" }).settings;
  const changedTo = (change: object) =>
    validateSpec({ ...base, ssh: { ...ssh, ...change } }, { kind: "new" }).settings;

  it("counts moving the bastion, another user or host key, adding or removing it", () => {
    expect(endpointChanges(before, changedTo({ host: "other.example.com" }))).toEqual(["ssh.host"]);
    expect(endpointChanges(before, changedTo({ port: 2222 }))).toEqual(["ssh.port"]);
    expect(endpointChanges(before, changedTo({ user: "root" }))).toEqual(["ssh.user"]);
    expect(endpointChanges(before, changedTo({ hostKey: encrypted.pub }))).toEqual(["ssh.hostKey"]);
    const direct = validateSpec(base, { kind: "new" }).settings;
    expect(endpointChanges(before, direct)).toEqual(["ssh"]);
    expect(endpointChanges(direct, before)).toEqual(["ssh"]);
  });

  it("counts pinning a first host key (the stored secrets would go to the key the caller chose)", () => {
    const unpinned = changedTo({ hostKey: "" });
    expect(endpointChanges(unpinned, before)).toEqual(["ssh.hostKey"]);
    const given = { username: "app", password: "pw", clientKey: undefined };
    expect(() =>
      requireCredentialsFor(endpointChanges(unpinned, before), before, { ...given, username: undefined }),
    ).toThrow(/credentials/);
    expect(() =>
      requireCredentialsFor(endpointChanges(unpinned, before), before, given, false, true),
    ).toThrow(/credentials/);
    // Removing a pin only narrows: no sign-in can complete without one.
    expect(endpointChanges(before, unpinned)).toEqual([]);
  });

  it("asks for the bastion's secrets too when they are stored", () => {
    const given = { username: "app", password: "pw", clientKey: undefined };
    expect(() => requireCredentialsFor(["ssh.host"], before, given, false, true)).toThrow(/credentials/);
    expect(() =>
      requireCredentialsFor(
        ["ssh.host"],
        before,
        { ...given, ssh: { privateKey: ed.key, passphrase: undefined, password: undefined } },
        false,
        true,
      ),
    ).not.toThrow();
  });
});

describe("ssh secrets in memory", () => {
  it("are not enumerable, not serialized, and scrubbed from messages", () => {
    const c = new Credentials("app", "pw", undefined, {
      privateKey: ed.key,
      passphrase: "pass phrase canary",
      password: "ssh password canary",
    });
    expect(JSON.stringify(c)).not.toMatch(/canary|PRIVATE/);
    expect(JSON.stringify({ ...c })).not.toMatch(/canary|PRIVATE/);
    expect(scrubSecrets("got ssh password canary and pass phrase canary", c)).toBe(
      "got [redacted] and [redacted]",
    );
  });

  it("host key fingerprints are OpenSSH's", () => {
    const parsed = parseHostKey(hostKey);
    if ("problem" in parsed) throw new Error(parsed.problem);
    const expected = execFileSync("ssh-keygen", ["-lf", join(dir, "ed.pub")], { encoding: "utf8" }).split(
      " ",
    )[1];
    expect(fingerprint(parsed.blob)).toBe(expected);
  });
});
