import { invalidationOf } from "../access/revocation-watch.js";
import type { TtlCache } from "../access/ttl-cache.js";
import type { Principal } from "../identity/principal.js";
import { createCacheBus } from "../limits/cache-bus.js";
import type { CoreSettings } from "./core-settings.js";

/**
 * Invalidations reach every instance through Redis when it is configured (`kind|key`): cached
 * sessions and access answers are dropped, and what is already open is re-checked too (a revoke
 * ends open leases and Session streams).
 */
export function invalidationBus(
  settings: CoreSettings,
  sessionCache: TtlCache<Principal>,
  accessCache: TtlCache<true>,
  on: {
    connectionChanged(id: string): void;
    keysChanged(): void;
    revoked(change: NonNullable<ReturnType<typeof invalidationOf>>): void;
  },
) {
  return createCacheBus(
    settings.redisUrl,
    (message) => {
      const [kind, key = ""] = message.split("|");
      if (kind === "tag") sessionCache.invalidateTag(key);
      if (kind === "tag") accessCache.invalidateTag(key);
      if (kind === "session") sessionCache.invalidate(key);
      if (kind === "connection") on.connectionChanged(key);
      if (kind === "keys") on.keysChanged();
      const change = invalidationOf(message);
      if (change) on.revoked(change);
    },
    settings.redisCommandTimeoutMs,
  );
}
