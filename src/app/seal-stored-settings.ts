import type { Membership } from "../cluster/membership.js";
import { sealClearRows } from "../connections/seal-clear-rows.js";
import type { KeySet } from "../crypto/key-set.js";
import type { Logger } from "../observability/logger.js";
import type { Store } from "../store/store.js";

const SEAL_RETRY_MS = 30_000;

/**
 * Connections and check results stored in clear before migration 0009 are
 * sealed before anything is served; the clear copies are blanked and the journal emptied of them.
 * A key provider that does not answer yet does not stop the start (as in openKeys): the pass is
 * retried until it completes, and meanwhile those connections answer an error, never clear values.
 */
export async function startSealing(
  store: Store,
  keys: KeySet,
  log: Logger,
  membership: Membership,
): Promise<() => void> {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const pass = async (): Promise<boolean> => {
    if (running) return false;
    running = true;
    try {
      // One instance seals at a time; the others try again later (and then find nothing to seal).
      const sealed = await membership.exclusive("seal", () => sealClearRows(store.db, keys));
      if (!sealed) return false;
      const r = sealed.value;
      if (r.connections + r.checks > 0) {
        await store.compactJournal();
        log.info({ connections: r.connections, checks: r.checks }, "stored settings sealed");
      }
      if (r.unreadable.length > 0)
        log.warn({ connections: r.unreadable }, "stored settings in clear could not be read; not sealed");
      return true;
    } catch (err) {
      log.warn({ error: (err as Error).message }, "stored settings could not be sealed yet; retrying");
      return false;
    } finally {
      running = false;
    }
  };
  if (await pass()) return () => {};
  timer = setInterval(() => {
    void pass().then((done) => {
      if (done) clearInterval(timer);
    });
  }, SEAL_RETRY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
