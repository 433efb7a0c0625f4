import { grantsPolicy } from "../access/policy.js";
import { createRevocationWatch, type Invalidation, type OpenAccess } from "../access/revocation-watch.js";
import { createPrincipalRecheck } from "../identity/principal-recheck.js";
import type { Logger } from "../observability/logger.js";
import type { DataPlane } from "../pools/data-plane.js";
import type { Lease } from "../pools/lease.js";
import { InFlightStatements } from "../services/in-flight-statements.js";
import type { Db } from "../store/store.js";

const RECHECK_EVERY_S = 30;

export type RevocationWatcher = ReturnType<typeof watchRevocations>;

/**
 * Ends open leases and Session streams whose principal may no longer use their connection: on every
 * revoking change the cache bus carries (from this instance or, through Redis, from any other), and
 * each second for sessions and service tokens that expired while open.
 */
export function watchRevocations(deps: { db: Db; plane: DataPlane; log: Logger }) {
  // Open access held outside the data plane's leases: the PostgreSQL front door's clients.
  const others: (() => Iterable<OpenAccess>)[] = [];
  // One-shot Execute calls hold a pooled session too: a revoke cancels them like a lease.
  const inFlight = new InFlightStatements();
  others.push(() => inFlight.list());
  const access = (lease: Lease): OpenAccess => ({
    principal: lease.principal,
    connectionId: lease.connectionId,
    end: (why) => deps.plane.leases.end(lease, why === "access_revoked" ? "revoked" : "session_ended"),
  });
  const watch = createRevocationWatch({
    open: () => [...deps.plane.leases.list().map(access), ...others.flatMap((source) => [...source()])],
    recheck: createPrincipalRecheck({ db: deps.db }),
    policy: grantsPolicy(deps.db),
    onError: (err) => deps.log.warn({ err }, "open access could not be re-checked against the store"),
  });
  const logged = (what: string) => (err: unknown) => deps.log.warn({ err }, `revocation ${what} failed`);
  deps.plane.leases.on("opened", (lease) => void watch.opened(access(lease)).catch(logged("check")));
  inFlight.onOpened = (a) => void watch.opened(a).catch(logged("check"));
  let ticks = 0;
  const sweeper = setInterval(() => {
    void watch.sweep().catch(logged("sweep"));
    // Every RECHECK_EVERY_S seconds, everything open, in case a change was announced and lost.
    if (++ticks % RECHECK_EVERY_S === 0) void watch.recheckAll().catch(logged("re-check"));
  }, 1_000);
  sweeper.unref();
  return {
    changed: (change: Invalidation) => watch.changed(change).catch(logged("check")),
    stop: () => clearInterval(sweeper),
    /** One-shot statements in flight, for the broker to register. */
    inFlight,
    /** Adds open access the watch must re-check (read at every change and sweep). */
    watch: (source: () => Iterable<OpenAccess>) => others.push(source),
    /** Access that has just opened, re-checked if a change concerning it came while it was opening. */
    opened: (a: OpenAccess) => void watch.opened(a).catch(logged("check")),
  };
}
