import type { OpenAccess, RevocationReason } from "../access/revocation-watch.js";
import { type BerthError, PermissionDeniedError, UnauthenticatedError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";

/** One statement running outside any lease (a one-shot Execute), as the revocation watch sees it. */
export interface TrackedStatement {
  /** Aborts when the call is cancelled by its caller or its access is revoked. */
  readonly signal: AbortSignal;
  /** Why access ended while it ran, as the caller is told; undefined if it did not. */
  endedError(): BerthError | undefined;
  /** The statement is over: no longer open access. */
  done(): void;
}

/**
 * One-shot Execute calls in flight. A lease or Session stream is ended when its access is revoked;
 * a one-shot statement holds a pooled session just as well (a `pg_sleep(600)` would run on to its
 * timeout), so it is open access too: a revoke cancels it and its caller is told why.
 */
export class InFlightStatements {
  readonly #open = new Set<OpenAccess>();
  /** Told of each statement as it starts (the watch re-checks one that raced a revoke). */
  onOpened: ((access: OpenAccess) => void) | undefined;

  list(): Iterable<OpenAccess> {
    return this.#open;
  }

  track(principal: Principal, connectionId: string, callSignal: AbortSignal): TrackedStatement {
    const stop = new AbortController();
    let ended: BerthError | undefined;
    const access: OpenAccess = {
      principal,
      connectionId,
      end: async (reason: RevocationReason) => {
        if (ended) return;
        ended = endedError(reason);
        stop.abort(ended);
      },
    };
    this.#open.add(access);
    this.onOpened?.(access);
    return {
      signal: AbortSignal.any([callSignal, stop.signal]),
      endedError: () => ended,
      done: () => this.#open.delete(access),
    };
  }
}

function endedError(reason: RevocationReason): BerthError {
  return reason === "access_revoked"
    ? new PermissionDeniedError(
        "Access to this connection was revoked while the statement ran; it was cancelled",
        "access_revoked",
      )
    : new UnauthenticatedError(
        "The sign-in or service token of this call has ended (signed out, revoked, disabled or expired); the statement was cancelled",
        "session_ended",
      );
}
