import { UNREACHABLE } from "./unreachable.js";

/**
 * Reached, but it cannot serve right now for reasons that say nothing about who it is. With the
 * unreachable ones, the only failures a READ may leave a replica for: any other (a refused sign-in,
 * a certificate that does not verify) means the host may not be the replica it was saved as.
 */
const PASSING: ReadonlySet<string> = new Set([
  "server_starting",
  "server_shutting_down",
  "too_many_connections",
  "pool_closed",
  // The connection budget shared by the instances could not be asked (Redis): says nothing of the host.
  "budget_unavailable",
]);

/** Whether a replica that failed with `reason` may have its READ served elsewhere. */
export function mayFallBack(reason: string): boolean {
  // A host the target policy denies was never contacted: it learned nothing and proved nothing.
  return UNREACHABLE.has(reason) || PASSING.has(reason) || reason === "target_denied";
}
