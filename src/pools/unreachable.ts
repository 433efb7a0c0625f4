import { UnavailableError } from "../errors/berth-error.js";

/** The reason for "the database took the connection but does not answer" (a black-holed or frozen host). */
export const NOT_ANSWERING = "database_not_answering";

/** Failure reasons that mean "cannot reach it" (unavailable) rather than "it refuses us" (failed). */
export const UNREACHABLE: ReadonlySet<string> = new Set([
  "connection_refused",
  "timeout",
  NOT_ANSWERING,
  "host_not_found",
  "dns_unavailable",
  "host_unreachable",
  "connection_reset",
]);

/**
 * The answer for a caller whose session could not be had because the database does not answer:
 * opens hang until the connect timeout, pings go unanswered. It is UNAVAILABLE, not pool
 * exhaustion — the slots are held by opens to a dead host, not by other callers' work — so a
 * client retries later or elsewhere instead of thinking it should ask for a bigger pool.
 */
export function notAnswering(
  host: string,
  what: string,
  details: Record<string, string | number> = {},
): UnavailableError {
  return new UnavailableError(`The database at ${host} is not answering: ${what}`, {
    reason: NOT_ANSWERING,
    host,
    ...details,
  });
}
