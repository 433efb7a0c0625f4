import type { Duplex } from "node:stream";
import type { ClientChannel } from "ssh2";
import { fingerprint, formatHostKey } from "../drivers/ssh/host-key.js";
import { warmPrivateKey } from "../drivers/ssh/private-key.js";
import { type SshAttempt, startSsh } from "../drivers/ssh/ssh-attempt.js";
import { SshError } from "../drivers/ssh/ssh-error.js";
import { SshTunnel } from "../drivers/ssh/tunnel.js";
import { CheckStage } from "../gen/berth/v1/types_pb.js";
import { dnsStage, type NetworkState, tcpStage } from "./network-stages.js";
import type { SshSecrets, SshSettings } from "./settings.js";
import { StageFailure, type StageRun } from "./stages.js";
import { TARGET_DENIED, TargetDeniedError, type TargetPolicy } from "./target-policy.js";

/** What the ssh stages leave for the database's stages: the tunnel, and the channel they opened. */
export interface SshRoute {
  tunnel?: SshTunnel;
  /** The forward stage's channel, for the tls stage (as the tcp stage's socket is without a tunnel). */
  channel?: ClientChannel;
  close(): void;
}

const asStageFailure = (err: unknown): unknown =>
  err instanceof SshError ? new StageFailure(err.failure, err.details) : err;

/**
 * ssh_dns → ssh_tcp → ssh_handshake → ssh_host_key → ssh_auth → ssh_forward: the bastion is held to
 * the target policy like a database host, then signed in to over the tcp stage's socket, each step
 * its own stage, so that "not an SSH server", "not the pinned host key" and "key refused" read as
 * what they are. The host key an SSH server presents is shown (known_hosts format and fingerprint)
 * whether it matched or not: confirming it is how a first key gets pinned.
 */
export function sshStages(
  ssh: SshSettings,
  secrets: SshSecrets,
  database: { server: string; port: number },
  targets: TargetPolicy,
  remainingMs: () => number,
): { stages: [CheckStage, StageRun][]; route: SshRoute } {
  const net: NetworkState = {};
  let attempt: SshAttempt | undefined;
  const route: SshRoute = {
    close() {
      route.channel?.destroy();
      route.tunnel?.close();
      attempt?.client.end();
      net.socket?.destroy();
    },
  };
  const stages: [CheckStage, StageRun][] = [
    [CheckStage.SSH_DNS, dnsStage(ssh.host, net, targets)],
    [CheckStage.SSH_TCP, tcpStage(ssh.port, net, true)],
    [
      CheckStage.SSH_HANDSHAKE,
      async () => {
        await warmPrivateKey(secrets.privateKey, secrets.passphrase, remainingMs());
        attempt = startSsh({ ...ssh, address: net.address }, secrets, {
          sock: net.socket as Duplex,
          timeoutMs: remainingMs(),
        });
        const key = await attempt.presented.catch((err) => Promise.reject(asStageFailure(err)));
        return { details: { host_key: formatHostKey(key), fingerprint: fingerprint(key) } };
      },
    ],
    [
      CheckStage.SSH_HOST_KEY,
      async () => {
        await attempt!.verified.catch((err) => Promise.reject(asStageFailure(err)));
        return { details: { pinned: "matches" } };
      },
    ],
    [
      CheckStage.SSH_AUTH,
      async () => {
        await attempt!.ready.catch((err) => Promise.reject(asStageFailure(err)));
        const method = secrets.privateKey ? "publickey" : "password";
        return { details: { user: ssh.user, method } };
      },
    ],
    [
      CheckStage.SSH_FORWARD,
      async () => {
        const ready = attempt!.ready;
        // The bastion would go where Berth itself may not: refused before the forward is asked for.
        try {
          targets.checkForwarded(database.server);
        } catch (err) {
          if (err instanceof TargetDeniedError)
            throw new StageFailure({ reason: TARGET_DENIED, code: "", message: err.message });
          throw err;
        }
        route.tunnel = new SshTunnel({ ...ssh, address: net.address }, secrets, () => ready);
        route.channel = await route.tunnel
          .forward(database.server, database.port, remainingMs())
          .catch((err) => Promise.reject(asStageFailure(err)));
        return { details: { to: `${database.server}:${database.port}` } };
      },
    ],
  ];
  return { stages, route };
}
