import type { OpenAccess } from "../access/revocation-watch.js";
import { createFrontDoorAccounts, type FrontDoorAccount } from "../identity/front-door-accounts.js";
import type { LoginGuard } from "../identity/login-throttle.js";
import type { Principal } from "../identity/principal.js";
import type { createServiceTokens } from "../identity/service-tokens.js";
import type { FrontDoorClientsSource, FrontDoorClientsView } from "../services/front-door-clients.js";
import type { Db } from "../store/store.js";
import type { CoreSettings } from "./core-settings.js";
import type { RevocationWatcher } from "./watch-revocations.js";

export interface FrontDoorCore {
  lookup(name: string): Promise<FrontDoorAccount | undefined>;
  certificate(commonName: string): Promise<Principal>;
  throttle: LoginGuard;
  failureDelayMs: number;
  /** Open clients the revocation watch must re-check. */
  watch(source: () => Iterable<OpenAccess>): void;
  opened(access: OpenAccess): void;
  /**
   * Where connection statuses read the front door's clients from (the services exist before the
   * front door starts); until it is called, statuses show no front door.
   */
  reportClients(source: (connectionId: string) => FrontDoorClientsView): void;
}

/**
 * What the PostgreSQL front door signs clients in and re-checks them with, and where connection
 * statuses read its clients from once it has started (the services are made before it).
 */
export function frontDoorCore(deps: {
  db: Db;
  serviceTokens: ReturnType<typeof createServiceTokens>;
  loginGuard: LoginGuard;
  settings: CoreSettings;
  watcher: RevocationWatcher;
}): { core: FrontDoorCore; clients: FrontDoorClientsSource } {
  const { serviceTokens, watcher } = deps;
  const accounts = createFrontDoorAccounts({ db: deps.db });
  let reported: ((connectionId: string) => FrontDoorClientsView) | undefined;
  return {
    core: {
      lookup: (name) => accounts.lookup(name),
      certificate: (cn) => serviceTokens.authenticateCertificate(cn),
      throttle: deps.loginGuard,
      failureDelayMs: deps.settings.loginFailureDelayMs,
      watch: (source) => watcher.watch(source),
      opened: (a) => watcher.opened(a),
      reportClients: (source) => {
        reported = source;
      },
    },
    clients: (connectionId) => reported?.(connectionId),
  };
}
