import type { Duplex } from "node:stream";
import type { AuthMethod, ConnectConfig, ParsedKey, Client as SshClient } from "ssh2";
// ssh2 is CommonJS: Node's ESM loader offers only its default export (named ones work under vitest,
// not in the built process).
import ssh2 from "ssh2";

const { Client } = ssh2;

import type { SshSecrets } from "../../connections/settings.js";
import type { ConnectParams } from "../driver.js";
import { describeNodeError, safeMessage } from "../failures.js";
import { fingerprint, formatHostKey, parseHostKey } from "./host-key.js";
import { parsePrivateKey } from "./private-key.js";
import { SshError } from "./ssh-error.js";

export type { SshSecrets };

/**
 * Where a bastion is and who signs in there; nothing secret. `address` is the one the target
 * policy checked `host` to resolve to (absent: `host`); an empty host key means none is pinned yet,
 * and every sign-in fails at it.
 */
export type SshTarget = NonNullable<ConnectParams["ssh"]>;

/**
 * One sign-in to a bastion, observable stage by stage: `presented` when the server has shown its
 * host key (the handshake got that far), `verified` when that key is the pinned one, `ready` when
 * signed in. Each rejects with an SshError naming what failed; a later promise rejects with the
 * same error as the earlier one that failed.
 */
export interface SshAttempt {
  readonly client: SshClient;
  readonly presented: Promise<Buffer>;
  readonly verified: Promise<void>;
  readonly ready: Promise<SshClient>;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function parsedKeyOf(secrets: SshSecrets): ParsedKey | undefined {
  if (!secrets.privateKey) return undefined;
  // Remembered per (key, passphrase): a sign-in does not pay the key's KDF again.
  const parsed = parsePrivateKey(secrets.privateKey, secrets.passphrase);
  if (parsed instanceof Error)
    throw new SshError(
      "ssh_private_key_invalid",
      parsed.reason ? `The SSH private key ${parsed.reason}` : "The SSH private key cannot be read",
    );
  return parsed;
}

/** The key first, then the password: each only if given. */
function authMethods(username: string, secrets: SshSecrets): AuthMethod[] {
  const key = parsedKeyOf(secrets);
  return [
    ...(key ? [{ type: "publickey", username, key } as AuthMethod] : []),
    ...(secrets.password ? [{ type: "password", username, password: secrets.password } as AuthMethod] : []),
  ];
}

/**
 * Starts signing in to `target` over `sock` (an open TCP connection to it) or, without one, over a
 * connection ssh2 opens itself. keepaliveMs > 0 makes a dead bastion show as a closed tunnel.
 */
export function startSsh(
  target: SshTarget,
  secrets: SshSecrets,
  options: { sock?: Duplex | undefined; timeoutMs: number; keepaliveMs?: number },
): SshAttempt {
  const client = new Client();
  const presented = deferred<Buffer>();
  const verified = deferred<void>();
  const ready = deferred<SshClient>();
  let verdict: SshError | null | undefined;
  const fail = (err: SshError) => {
    presented.reject(err);
    verified.reject(err);
    ready.reject(err);
  };
  const pinned = target.hostKey ? parseHostKey(target.hostKey) : undefined;
  const config: ConnectConfig = {
    username: target.user,
    readyTimeout: Math.max(1, options.timeoutMs),
    keepaliveInterval: options.keepaliveMs ?? 0,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      const shown = { host_key: formatHostKey(key), fingerprint: fingerprint(key) };
      presented.resolve(key);
      if (!pinned) {
        verdict = new SshError(
          "ssh_host_key_unknown",
          `The SSH server presented a host key that is not pinned yet (${shown.fingerprint})`,
          shown,
        );
      } else if ("problem" in pinned || !pinned.blob.equals(key)) {
        verdict = new SshError(
          "ssh_host_key_changed",
          `The SSH server presented a host key other than the pinned one (${shown.fingerprint})`,
          shown,
        );
      } else verdict = null;
      if (verdict) verified.reject(verdict);
      else verified.resolve();
      return verdict === null;
    },
    ...(options.sock
      ? { sock: options.sock as never }
      : { host: target.address ?? target.host, port: target.port }),
  };
  client.on("ready", () => ready.resolve(client));
  client.on("error", (err) => fail(classify(err, verdict)));
  client.on("close", () =>
    fail(
      verdict ??
        (verdict === undefined
          ? new SshError(
              "ssh_handshake_failed",
              "The server closed the connection before the SSH handshake completed: is it an SSH server?",
            )
          : new SshError("ssh_connection_lost", "The SSH server closed the connection")),
    ),
  );
  try {
    client.connect({ ...config, authHandler: authMethods(target.user, secrets) });
  } catch (err) {
    // A private key that cannot be read fails synchronously; validation should have caught it.
    fail(
      err instanceof SshError
        ? err
        : new SshError("ssh_private_key_invalid", "The SSH private key cannot be read"),
    );
  }
  return { client, presented: presented.promise, verified: verified.promise, ready: ready.promise };
}

function classify(
  err: Error & { level?: string; code?: unknown },
  verdict: SshError | null | undefined,
): SshError {
  if (verdict) return verdict;
  if (err.level === "client-authentication")
    return new SshError(
      "ssh_auth_failed",
      "The SSH server rejected the sign-in (every method tried: key or password)",
    );
  if (err.level === "client-timeout")
    return new SshError("timeout", "The SSH server did not complete the handshake in time", {}, "ETIMEDOUT");
  const node = describeNodeError(err);
  // Reset before any host key was presented: the peer is most likely no SSH server (a database that
  // greets first resets the connection when it reads the SSH banner, or closes it: both the same).
  if (node?.reason === "connection_reset" && verdict === undefined)
    return new SshError(
      "ssh_handshake_failed",
      "The server reset the connection before the SSH handshake completed: is it an SSH server?",
      {},
      node.code,
    );
  if (node) return new SshError(node.reason, `SSH server: ${node.message}`, {}, node.code);
  if (verdict === undefined)
    return new SshError("ssh_handshake_failed", `The SSH handshake failed: ${safeMessage(err)}`);
  return new SshError("ssh_failed", `SSH: ${safeMessage(err)}`);
}
