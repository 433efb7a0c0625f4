import { CLEARTEXT_PASSWORD_REFUSED } from "../engines/cleartext-refusal.js";
import { BerthError, UnavailableError } from "../errors/berth-error.js";
import type { ConnectionPool } from "./pool.js";

/** Which hosts routing had to choose from; a PoolGroup fits it. */
interface Hosts {
  readonly hosts: readonly ConnectionPool[];
}

/** No host takes writes: said at once, with what each host is, rather than a timeout per call. */
export function noPrimary(group: Hosts, intent: "read" | "write" = "write"): UnavailableError {
  const what =
    intent === "write"
      ? "writes cannot be served until a host is promoted (or the primary is back)"
      : "no replica can serve this read either";
  return new UnavailableError(`No host of this connection is a primary now: ${what}. Retry later`, {
    reason: "no_primary",
    hosts: group.hosts.length,
  });
}

/** How a refusal known only from a health check reads (the session's own error says it otherwise). */
const REFUSAL_TEXT: Record<string, string> = {
  authentication_failed: "refused Berth's sign-in",
  [CLEARTEXT_PASSWORD_REFUSED]:
    "asked for the password in clear text on a connection without TLS; Berth did not send it",
};

/**
 * The READ's answer when its replica refuses Berth: the replica's own error (same kind, so a
 * refused clear-text request still answers like one), which replica, and what to do.
 */
export function replicaRefused(replica: ConnectionPool, reason: string, cause?: BerthError): BerthError {
  const what = cause
    ? cause.message
    : `The read replica ${replica.host} ${REFUSAL_TEXT[reason] ?? `refuses Berth (${reason})`}`;
  const kind = cause?.kind ?? (reason === CLEARTEXT_PASSWORD_REFUSED ? "security_violation" : "unavailable");
  return new BerthError(
    kind,
    `${what}. Reads are not sent to another host while a replica refuses Berth: it may not be the server it was saved as; check the replica and the connection's replicas`,
    { ...cause?.details, reason, replica: replica.host },
    { cause },
  );
}
