import type { Registry } from "prom-client";
import type { AccessLevel } from "../access/levels.js";
import type { OpenAccess } from "../access/revocation-watch.js";
import type { Principal } from "../identity/principal.js";
import type { Logger } from "../observability/logger.js";
import type { PoolManager } from "../pools/pool-manager.js";
import type { AuthenticateDeps } from "./authenticate.js";
import type { FrontDoorTls } from "./startup.js";

/** What the front door is given: the listener's place and bounds, and the core it serves from. */
export interface FrontDoorLimits {
  /** Clients connected at once, across sources. */
  readonly maxClients: number;
  /** Clients from one address (an IPv6 client by its /64). */
  readonly maxClientsPerSource: number;
  /** Startup and sign-in must be done within this. */
  readonly startupTimeoutMs: number;
}

export interface FrontDoorAuditEvent {
  readonly action: "frontdoor.open" | "frontdoor.close" | "frontdoor.denied";
  readonly principal: Principal | undefined;
  readonly actorName: string;
  readonly source: string;
  readonly connectionId: string;
  readonly outcome: "ok" | "denied" | "failed";
  readonly reason: string;
}

export interface FrontDoorDeps {
  readonly host: string;
  readonly port: number;
  readonly tls: () => FrontDoorTls | undefined;
  readonly pools: PoolManager;
  findConnection(
    principal: Principal,
    nameOrId: string,
  ): Promise<{ id: string; name: string; type: string; level: AccessLevel } | undefined>;
  readonly auth: AuthenticateDeps;
  audit(event: FrontDoorAuditEvent): Promise<void>;
  /** Told when a client opened: it is re-checked if its access changed while it was signing in. */
  opened(access: OpenAccess): void;
  readonly log: Logger;
  readonly metrics: Registry;
  /** Told of each refused sign-in with its reason (a security event on /metrics). */
  readonly onSignInRefused?: (reason: string) => void;
  readonly limits: FrontDoorLimits;
}
