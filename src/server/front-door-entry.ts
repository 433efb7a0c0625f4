import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { Config } from "../config/config.js";
import type { Core } from "../core.js";
import { type FrontDoor, startFrontDoor } from "../frontdoor/front-door.js";
import type { FrontDoorTls } from "../frontdoor/startup.js";
import type { Logger } from "../observability/logger.js";
import type { FrontDoorClientView } from "../services/front-door-clients.js";

/** The front door's TLS, replaceable on SIGHUP like the HTTP port's. */
export interface FrontDoorEntry {
  readonly door: FrontDoor;
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * The PostgreSQL front door on BERTH_PG_PORT, wired to the core: the pools, the connection
 * registry, sign-in (accounts, certificates, the throttle), the audit log and the revocation watch.
 */
export async function startFrontDoorEntry(
  config: Config,
  core: Core,
  log: Logger,
  tlsContext: SecureContextOptions | undefined,
): Promise<FrontDoorEntry | undefined> {
  const settings = config.frontDoor;
  if (!settings) return undefined;
  const tlsOf = (options: SecureContextOptions): FrontDoorTls => ({
    context: createSecureContext(options),
    requestCert: config.tls?.clientCaFile !== undefined,
    requireCert: config.tls?.clientCaFile !== undefined && config.tls.clientAuth === "require",
  });
  let tls = tlsContext ? tlsOf(tlsContext) : undefined;
  const fd = core.frontDoor;
  const door = await startFrontDoor({
    host: config.host,
    port: settings.port,
    tls: () => tls,
    pools: core.dataPlane.pools,
    findConnection: (principal, nameOrId) => core.registry.findForUse(principal, nameOrId),
    auth: {
      lookup: fd.lookup,
      certificate: fd.certificate,
      throttle: fd.throttle,
      failureDelayMs: fd.failureDelayMs,
    },
    audit: async (e) => {
      await core.audit.append({
        actorId: e.principal?.userId ?? "",
        actorName: e.actorName,
        source: e.source,
        transport: "pgwire",
        action: e.action,
        target: e.connectionId,
        outcome: e.outcome,
        reason: e.reason,
        requestId: "",
      });
    },
    opened: fd.opened,
    log,
    metrics: core.dataPlane.metrics.registry,
    // A wrong password or a locked account is a failed sign-in; a garbled handshake is a client bug.
    onSignInRefused: (reason) => {
      if (reason !== "protocol") core.dataPlane.metrics.securityEvent("sign_in_failed");
    },
    limits: settings,
  });
  fd.watch(() => door.openAccess());
  fd.reportClients((connectionId) => clientsOf(door, connectionId));
  return {
    door,
    setSecureContext: (options) => {
      tls = tlsOf(options);
    },
  };
}

/** The door's clients of one connection, as the connection's status shows them. */
function clientsOf(door: FrontDoor, connectionId: string): FrontDoorClientView[] {
  return door
    .clients()
    .filter((c) => c.connectionId === connectionId)
    .map((c) => ({
      username: c.principal.username,
      principalKind: c.principal.kind,
      source: c.identity.source,
      state: c.state,
      pinned: c.pinned,
      openedAt: c.openedAt,
      transactions: c.transactions,
    }));
}
