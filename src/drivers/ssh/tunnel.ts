import type { Duplex } from "node:stream";
import type { Client, ClientChannel } from "ssh2";
import { warmPrivateKey } from "./private-key.js";
import { type SshSecrets, type SshTarget, startSsh } from "./ssh-attempt.js";
import { SshError } from "./ssh-error.js";
import { TunnelSocket } from "./tunnel-socket.js";

/** SSH keepalive: a bastion that stops answering is given up after three missed ones. */
const KEEPALIVE_MS = 5_000;
/** A tunnel with no channel open for this long is closed; the next session opens it again. */
const IDLE_CLOSE_MS = 60_000;

/**
 * One SSH connection to a bastion, shared by every database session that goes through it: each
 * session is a channel of its own (direct-tcpip, `forwardOut`). The connection is opened on first
 * use and again after it drops — the sessions it carried fail as lost sessions, and the pool's
 * next open signs in to the bastion anew. Closed when idle.
 */
export class SshTunnel {
  #client: Promise<Client> | undefined;
  #open = 0;
  #idle: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly target: SshTarget,
    secrets: SshSecrets,
    private readonly connectClient: (timeoutMs: number) => Promise<Client> = async (timeoutMs) => {
      // An encrypted key is decrypted off the main thread (once per key) before the sign-in reads it.
      await warmPrivateKey(secrets.privateKey, secrets.passphrase, timeoutMs);
      return startSsh(target, secrets, { timeoutMs, keepaliveMs: KEEPALIVE_MS }).ready;
    },
    private readonly idleCloseMs = IDLE_CLOSE_MS,
  ) {}

  /** No SSH connection and no channel: nothing to close. */
  get dormant(): boolean {
    return this.#client === undefined && this.#open === 0;
  }

  /** The signed-in connection, opening it when there is none. */
  client(timeoutMs: number): Promise<Client> {
    if (this.#closed) return Promise.reject(new SshError("ssh_connection_lost", "The SSH tunnel is closed"));
    if (!this.#client) {
      const pending = this.connectClient(timeoutMs);
      this.#client = pending;
      const forget = () => {
        if (this.#client === pending) this.#client = undefined;
      };
      pending.then((c) => {
        c.once("close", forget);
        c.once("error", forget);
      }, forget);
    }
    return this.#client;
  }

  /** A channel to `host:port` as the bastion sees them. */
  async forward(host: string, port: number, timeoutMs: number): Promise<ClientChannel> {
    const client = await this.client(timeoutMs);
    return new Promise((resolve, reject) => {
      try {
        client.forwardOut("127.0.0.1", 0, host, port, (err, channel) => {
          if (err)
            reject(
              new SshError(
                "ssh_forward_failed",
                `The SSH server did not open a forward to ${host}:${port}: ${err.message}`,
              ),
            );
          else resolve(channel);
        });
      } catch (err) {
        // ssh2 throws when the connection is no longer writable (it dropped under us).
        reject(new SshError("ssh_connection_lost", `The SSH connection dropped: ${(err as Error).message}`));
      }
    });
  }

  /** A socket for a driver, connected to `host:port` through the tunnel (see TunnelSocket). */
  dial(host: string, port: number, timeoutMs: number): Duplex {
    this.#open++;
    clearTimeout(this.#idle);
    const socket = new TunnelSocket(this.forward(host, port, timeoutMs));
    socket.once("close", () => {
      this.#open--;
      if (this.#open === 0 && !this.#closed) {
        this.#idle = setTimeout(() => this.#closeClient(), this.idleCloseMs);
        this.#idle.unref();
      }
    });
    return socket;
  }

  #closeClient(): void {
    const pending = this.#client;
    this.#client = undefined;
    void pending?.then(
      (c) => c.end(),
      () => {},
    );
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#idle);
    this.#closeClient();
  }
}
