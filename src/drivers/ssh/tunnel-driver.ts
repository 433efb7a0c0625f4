import type { Credentials } from "../../connections/settings.js";
import type { ConnectParams, Driver } from "../driver.js";
import { SshError } from "./ssh-error.js";
import { SshTunnel } from "./tunnel.js";

/**
 * The tunnels of open connections, one per connection and bastion: keyed by the connection's
 * decrypted credentials (a pool holds one Credentials for its life; its sessions, and the pools of
 * its replicas, share it) and then by the bastion. Weak: when the pools let go of the credentials,
 * the tunnels go with them (each closes itself when idle first). A data plane holds one registry
 * and closes it when it stops, so that no SSH connection outlives it.
 */
export function createTunnelRegistry() {
  const byCredentials = new WeakMap<Credentials, Map<string, SshTunnel>>();
  const open = new Set<SshTunnel>();
  return {
    tunnelFor(params: ConnectParams): SshTunnel {
      const ssh = params.ssh!;
      const key = JSON.stringify([ssh.host, ssh.address ?? "", ssh.port, ssh.user, ssh.hostKey]);
      let byBastion = byCredentials.get(params.credentials);
      if (!byBastion) {
        byBastion = new Map();
        byCredentials.set(params.credentials, byBastion);
      }
      let tunnel = byBastion.get(key);
      if (!tunnel) {
        tunnel = new SshTunnel(ssh, params.credentials.ssh ?? noSecrets);
        byBastion.set(key, tunnel);
      }
      // Only tunnels that may hold an SSH connection are kept for close(): dormant ones (closed
      // when idle) are let go, so that the weak map alone decides how long they live.
      for (const t of open) if (t.dormant) open.delete(t);
      open.add(tunnel);
      return tunnel;
    },
    close(): void {
      for (const tunnel of open) tunnel.close();
      open.clear();
    },
  };
}

export type TunnelRegistry = ReturnType<typeof createTunnelRegistry>;

const noSecrets = { privateKey: undefined, passphrase: undefined, password: undefined };

/** For drivers made without a data plane (tests, tools): tunnels close when idle. */
const SHARED = createTunnelRegistry();

/**
 * A driver that reaches the database through the connection's SSH bastion when it has one: the
 * tunnel is signed in to first (so its failures surface as what they are, `ssh_*` reasons, not as
 * a socket error of the database's protocol), then the driver gets a `dial` opening a channel per
 * socket. Connections without a bastion pass through untouched.
 */
export function tunnelled(driver: Driver, tunnels: TunnelRegistry = SHARED): Driver {
  const wrapped: Driver = {
    engine: driver.engine,
    negotiateTls: (socket, options, engineOptions) => driver.negotiateTls(socket, options, engineOptions),
    async connect(params) {
      if (!params.ssh) return driver.connect(params);
      const tunnel = tunnels.tunnelFor(params);
      await tunnel.client(params.connectTimeoutMs);
      return driver.connect({
        ...params,
        dial: () => tunnel.dial(params.host, params.port, params.connectTimeoutMs),
      });
    },
    describeError: (err) => (err instanceof SshError ? err.failure : driver.describeError(err)),
    isConnectionError: (err) => err instanceof SshError || driver.isConnectionError(err),
  };
  if (driver.locate) wrapped.locate = driver.locate.bind(driver);
  return wrapped;
}
