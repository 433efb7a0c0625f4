import type { Principal } from "../identity/principal.js";
import type { PrincipalRecheck } from "../identity/principal-recheck.js";
import { atLeast } from "./levels.js";
import type { AccessPolicy } from "./policy.js";

/** How long a change is remembered for access that opens after it (the longest acquire bound). */
const RECENT_MS = 600_000;
const MAX_RECENT = 10_000;

/** Why open access was ended from outside: its principal is gone, or no longer may use the connection. */
export type RevocationReason = "signed_out" | "access_revoked" | "expired";

/** Something held open for a principal on a connection: a lease, a session stream, a front-door client. */
export interface OpenAccess {
  readonly principal: Principal;
  readonly connectionId: string;
  /** Rolls back, resets and frees the slot; the holder's next statement fails. Idempotent. */
  end(reason: RevocationReason): Promise<void>;
}

/** What changed, as the invalidation bus says it (`tag|connection:ID`, `tag|user:ID`, `session|HASH`). */
export type Invalidation = { kind: "tag"; tag: string } | { kind: "session"; hash: string };

export interface RevocationWatchDeps {
  /** Everything open on this instance right now. */
  open: () => Iterable<OpenAccess>;
  recheck: PrincipalRecheck;
  policy: Pick<AccessPolicy, "levelOf">;
  now?: () => Date;
  /** Told when a re-check itself failed (the store did not answer): the access is ended, fail closed. */
  onError?: (err: unknown) => void;
}

/**
 * Ends open access whose grant no longer holds. A cached authorization is dropped by the cache bus;
 * this does the same for what is already open, on every instance the bus reaches: each invalidation
 * re-checks the open access it concerns against the store (the principal as it is now, and its level
 * on the connection), and ends what may no longer be used. Expiry needs no message: `sweep` ends
 * access whose session or token has expired.
 */
export function createRevocationWatch(deps: RevocationWatchDeps) {
  const now = deps.now ?? (() => new Date());
  // Changes of the last RECENT_MS: access authorized before a change but opened after it (its caller
  // waited for a pooled session meanwhile) is checked against them when it opens.
  let recent: { change: Invalidation; at: number }[] = [];

  function concerns(change: Invalidation, access: OpenAccess): boolean {
    if (change.kind === "session") return access.principal.sessionHash === change.hash;
    if (change.tag.startsWith("connection:")) return access.connectionId === change.tag.slice(11);
    if (change.tag.startsWith("user:")) return access.principal.userId === change.tag.slice(5);
    return false;
  }

  async function verdict(access: OpenAccess): Promise<RevocationReason | undefined> {
    const current = await deps.recheck(access.principal);
    if (!current) return "signed_out";
    return atLeast(await deps.policy.levelOf(current, access.connectionId), "user")
      ? undefined
      : "access_revoked";
  }

  /**
   * After an announced change a re-check that cannot be made ends the access (fail closed); the
   * periodic re-check of everything skips it instead, or one store hiccup would end every session.
   */
  async function recheck(access: OpenAccess, failClosed = true): Promise<void> {
    let reason: RevocationReason | undefined;
    try {
      reason = await verdict(access);
    } catch (err) {
      deps.onError?.(err);
      if (failClosed) reason = "access_revoked";
    }
    if (reason) await access.end(reason);
  }

  return {
    /** Re-checks the open access a change concerns; resolves when what must end has ended. */
    async changed(change: Invalidation): Promise<void> {
      const t = now().getTime();
      recent = recent.filter((r) => r.at > t - RECENT_MS).slice(-MAX_RECENT + 1);
      recent.push({ change, at: t });
      const affected = [...deps.open()].filter((a) => concerns(change, a));
      await Promise.all(affected.map((a) => recheck(a)));
    },
    /** Call when access has just opened: re-checked if a change concerning it came while it was being opened. */
    async opened(access: OpenAccess): Promise<void> {
      const since = now().getTime() - RECENT_MS;
      if (recent.some((r) => r.at > since && concerns(r.change, access))) await recheck(access);
    },
    /**
     * Re-checks everything open against the store. A change announced through Redis pub/sub can be
     * lost (a subscriber reconnecting); this bounds how long such a loss keeps access open.
     */
    async recheckAll(): Promise<void> {
      await Promise.all([...deps.open()].map((a) => recheck(a, false)));
    },
    /** Ends open access whose session or service token has expired. */
    async sweep(): Promise<void> {
      const t = now();
      const expired = [...deps.open()].filter((a) => a.principal.sessionExpiresAt <= t);
      await Promise.all(expired.map((a) => a.end("expired")));
    },
  };
}

export type RevocationWatch = ReturnType<typeof createRevocationWatch>;

/** Parses a cache-bus message into the change it announces, if it is one that can revoke access. */
export function invalidationOf(message: string): Invalidation | undefined {
  const [kind, key = ""] = message.split("|");
  if (kind === "tag" && key) return { kind: "tag", tag: key };
  if (kind === "session" && key) return { kind: "session", hash: key };
  // A connection changed or was deleted: what is open on it is re-checked (a deleted one answers
  // no level, so its leases and front-door clients end now, not when its pools' grace runs out).
  if (kind === "connection" && key) return { kind: "tag", tag: `connection:${key}` };
  return undefined;
}
