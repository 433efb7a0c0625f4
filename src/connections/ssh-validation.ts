import { parseHostKey } from "../drivers/ssh/host-key.js";
import { privateKeyProblem } from "../drivers/ssh/private-key.js";
import type { EngineId } from "../engines/engine.js";
import { hostProblem, normalizeHost } from "./host.js";
import type { SshSecrets, SshSettings, SshSpecInput } from "./settings.js";

export const SSH_LIMITS = {
  userChars: 128,
  passwordChars: 1024,
  keyChars: 16 * 1024,
  hostKeyChars: 8 * 1024,
};

const CONTROL = /[\p{Cc}\p{Cf}]/u;

type Bad = (field: string, description: string) => void;

/**
 * The ssh part of a spec: where the bastion is, who signs in, its pinned host key, and the secrets
 * as sent. Secrets: a private key (with its passphrase if it is encrypted) or a password. On
 * update, sending none of the three keeps the stored ones (`stored` says which those are); sending
 * any replaces all three.
 */
export function sshOf(
  input: SshSpecInput | undefined,
  stored: SshSettings["stored"] | undefined,
  engine: EngineId,
  bad: Bad,
  options: { decrypt: boolean } = { decrypt: true },
): { ssh: SshSettings | undefined; secrets: SshSecrets | undefined } {
  if (!input || (input.host ?? "") === "") {
    const sent = input && Object.values(input).some((v) => v !== undefined && v !== "" && v !== 0);
    if (sent) bad("ssh.host", "is required: the SSH server (bastion) to reach the database through");
    return { ssh: undefined, secrets: undefined };
  }
  // Their drivers (tedious, oracledb) open their own sockets: no channel can be handed to them.
  if (engine !== "postgresql" && engine !== "mysql")
    bad("ssh", "applies only to PostgreSQL and MySQL connections (their drivers take the tunnel's channel)");
  const host = normalizeHost(input.host ?? "");
  const problem = hostProblem(host);
  if (problem) bad("ssh.host", problem);
  const port = input.port === undefined || input.port === 0 ? 22 : input.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    bad("ssh.port", `must be an integer from 1 to 65535 (got ${port})`);
  const user = input.user ?? "";
  if (user === "") bad("ssh.user", "is required: the user to sign in to the SSH server as");
  else if (user.length > SSH_LIMITS.userChars)
    bad("ssh.user", `must be at most ${SSH_LIMITS.userChars} characters`);
  else if (CONTROL.test(user) || /\s/.test(user))
    bad("ssh.user", "must not contain white space or control characters");

  const hostKey = (input.hostKey ?? "").trim();
  if (hostKey.length > SSH_LIMITS.hostKeyChars) bad("ssh.hostKey", "is too long for a host key");
  else if (hostKey !== "") {
    const parsed = parseHostKey(hostKey);
    if ("problem" in parsed) bad("ssh.hostKey", parsed.problem);
  }

  const given = [input.privateKey, input.passphrase, input.password].some((v) => v !== undefined);
  let secrets: SshSecrets | undefined;
  let flags = stored ?? { privateKey: false, passphrase: false, password: false };
  if (given) {
    secrets = secretsOf(input, bad, options.decrypt);
    flags = {
      privateKey: secrets.privateKey !== undefined,
      passphrase: secrets.passphrase !== undefined,
      password: secrets.password !== undefined,
    };
  }
  if (!flags.privateKey && !flags.password)
    bad("ssh.privateKey", "is required, or ssh.password: how to sign in to the SSH server");
  const pinned = hostKey === "" ? "" : (normalizedKey(hostKey) ?? "");
  return { ssh: { host, port, user, hostKey: pinned, stored: flags }, secrets };
}

/** `type base64`, without a host pattern or comment: the form compared and shown. */
function normalizedKey(text: string): string | undefined {
  const parsed = parseHostKey(text);
  return "problem" in parsed ? undefined : `${parsed.type} ${parsed.blob.toString("base64")}`;
}

function secretsOf(input: SshSpecInput, bad: Bad, decrypt: boolean): SshSecrets {
  const privateKey = input.privateKey === "" ? undefined : input.privateKey;
  const passphrase = input.passphrase === "" ? undefined : input.passphrase;
  const password = input.password === "" ? undefined : input.password;
  if (privateKey !== undefined) {
    if (privateKey.length > SSH_LIMITS.keyChars)
      bad("ssh.privateKey", `must be at most ${SSH_LIMITS.keyChars} characters`);
    else {
      // Never the key or the parser's words: fixed descriptions only.
      const problem = privateKeyProblem(privateKey, passphrase, decrypt);
      if (problem)
        bad(problem.startsWith("cannot be decrypted") ? "ssh.passphrase" : "ssh.privateKey", problem);
    }
  } else if (passphrase !== undefined)
    bad("ssh.passphrase", "goes with ssh.privateKey: it decrypts that key");
  for (const [field, value] of [
    ["ssh.passphrase", passphrase],
    ["ssh.password", password],
  ] as const) {
    if (value === undefined) continue;
    if (value.length > SSH_LIMITS.passwordChars)
      bad(field, `must be at most ${SSH_LIMITS.passwordChars} characters`);
    if (value.includes("\0")) bad(field, "must not contain NUL characters");
  }
  return { privateKey, passphrase, password };
}
