import type { Driver } from "../drivers/driver.js";
import { type TunnelRegistry, tunnelled } from "../drivers/ssh/tunnel-driver.js";
import type { EngineId } from "../engines/engine.js";
import { TARGET_DENIED, TargetDeniedError, type TargetPolicy } from "./target-policy.js";

/**
 * A driver that goes only where the target policy allows, on every session it opens (pool
 * sessions, replicas, health probes). The host is resolved once and checked, and the driver is
 * handed the checked address to open its socket to — never the name, which a second lookup could
 * answer differently (DNS rebinding). The name stays for TLS (server name and certificate check).
 *
 * Through an SSH bastion, Berth's own socket goes to the bastion: that is the address held to the
 * policy, and the database host is left for the bastion to resolve (it is often a name only the
 * bastion's network knows). What the bastion is asked to forward to is checked too, before the
 * tunnel opens (checkForwarded: an IP address fully, a name by the name rules). The guarded driver
 * opens the tunnel (see tunnelled).
 */
export function guardDriver(plain: Driver, policy: TargetPolicy, tunnels?: TunnelRegistry): Driver {
  const driver = tunnelled(plain, tunnels);
  const guarded: Driver = {
    engine: driver.engine,
    negotiateTls: (socket, options, engineOptions) => driver.negotiateTls(socket, options, engineOptions),
    async connect(params) {
      if (params.ssh) {
        const ssh = params.ssh;
        policy.checkForwarded(params.host);
        if (ssh.address !== undefined) policy.check(ssh.host, [ssh.address]);
        const address = ssh.address ?? (await bounded(policy.resolve(ssh.host), params.connectTimeoutMs))[0];
        return driver.connect({ ...params, ssh: { ...ssh, address } });
      }
      // An address resolved by a caller that already checked it (the staged test) is checked again.
      if (params.address !== undefined) policy.check(params.host, [params.address]);
      const address =
        params.address ?? (await bounded(policy.resolve(params.host), params.connectTimeoutMs))[0];
      return driver.connect({ ...params, ...(address !== undefined ? { address } : {}) });
    },
    describeError: (err) =>
      err instanceof TargetDeniedError
        ? { reason: TARGET_DENIED, code: "", message: err.message }
        : driver.describeError(err),
    isConnectionError: (err) => driver.isConnectionError(err),
  };
  const locate = driver.locate?.bind(driver);
  if (locate) {
    // The SQL Server Browser is asked over UDP: the same policy, before the datagram is sent.
    guarded.locate = async (host, options, timeoutMs) => {
      const [address] = await policy.resolve(host);
      return locate(address ?? host, options, timeoutMs);
    };
  }
  return guarded;
}

/** Every engine's driver, guarded by one policy (drivers are made once, not per connect). */
export function guardDrivers(
  drivers: (engine: EngineId) => Driver | undefined,
  policy: TargetPolicy,
  tunnels?: TunnelRegistry,
): (engine: EngineId) => Driver | undefined {
  const cache = new Map<EngineId, Driver | undefined>();
  return (engine) => {
    if (!cache.has(engine)) {
      const driver = drivers(engine);
      cache.set(engine, driver && guardDriver(driver, policy, tunnels));
    }
    return cache.get(engine);
  };
}

/**
 * The lookup is part of opening a session, so it shares the session's bound (the driver's own
 * lookup was inside it before). getaddrinfo cannot be aborted; the caller just stops waiting.
 */
function bounded<T>(pending: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(Object.assign(new Error(`DNS did not answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })),
      timeoutMs,
    );
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}
