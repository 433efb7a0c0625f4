import type { DestinationStream } from "pino";
import { Membership } from "../cluster/membership.js";
import type { Config } from "../config/config.js";
import { type Core, createCore } from "../core.js";
import type { KeySet } from "../crypto/key-set.js";
import { bootstrapAdmin } from "../identity/users.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { describeStoreUrl, openPostgresStore } from "../store/postgres-store.js";
import { openSqliteStore, type Store } from "../store/store.js";
import { openKeys } from "./open-keys.js";
import { startSealing } from "./seal-stored-settings.js";
import { startRetention } from "./start-retention.js";

export interface StartOptions {
  logDestination?: DestinationStream;
  /** Where the generated admin password is announced (stderr by default). */
  announce?: (line: string) => void;
  /** The heartbeat interval (5 s by default); tests shorten it. */
  heartbeatMs?: number;
}

/** What Berth runs on: the store, the keys, the core (services, data plane) and retention. */
export interface Deps {
  log: Logger;
  store: Store;
  membership: Membership;
  keys: KeySet;
  core: Core;
  stopRetention: () => void;
  stopSealing: () => void;
}

/** Opens what Berth runs on, in this order; a start that fails part-way closes what it opened. */
export async function buildDeps(config: Config, options: StartOptions, ready: () => boolean): Promise<Deps> {
  const log = createLogger(config.logLevel, options.logDestination);
  const store = await openStore(config, log);
  const membership = new Membership({
    db: store.db,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    onError: (err, what) => log.warn({ error: (err as Error).message }, `${what} failed`),
    onPruned: (ids) => log.info({ instances: ids }, "instances without a heartbeat dropped"),
  });
  let stopSealing = () => {};
  let keys: KeySet | undefined;
  try {
    keys = await openKeys(config, store, log);
    stopSealing = await startSealing(store, keys, log, membership);
    await bootstrapAdmin(store.db, config.adminPassword, log, options.announce);
    const core = createCore({ db: store.db, keys, log, settings: config, ready, instances: membership });
    await core.ready();
    const stopRetention = startRetention(config, store, core, log, membership);
    return { log, store, membership, keys, core, stopRetention, stopSealing };
  } catch (err) {
    // A start that failed lets go of the store: its sessions, and SQLite's data directory lock.
    stopSealing();
    keys?.stop();
    await store.close().catch(() => {});
    throw err;
  }
}

/** PostgreSQL when BERTH_STORE_URL is set (shared mode), else the SQLite file in the data directory. */
function openStore(config: Config, log: Logger): Promise<Store> {
  if (!config.storeUrl) return openSqliteStore(config.dataDir);
  const where = describeStoreUrl(config.storeUrl);
  return openPostgresStore(config.storeUrl, {
    onIdleError: (err) => log.warn({ store: where, error: err.message }, "an idle store session failed"),
  });
}
