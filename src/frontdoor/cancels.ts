/**
 * Cancels forwarded to the database and not yet handled by it. The backend stays with its client
 * until they are (PostgreSQL closes a CancelRequest's connection once it has signalled the
 * backend): given to another client sooner, a late cancel would stop that client's statement
 * (the race PgBouncer fixed in pgbouncer/pgbouncer#717).
 */
export class CancelsInFlight {
  readonly #sent = new Set<Promise<void>>();

  get pending(): boolean {
    return this.#sent.size > 0;
  }

  /** Asks the database to cancel what the session runs now; `handled` runs once it did (or failed to). */
  send(session: { cancel(): Promise<void> }, handled: () => void): void {
    const sent: Promise<void> = session
      .cancel()
      .catch(() => {})
      .finally(() => {
        this.#sent.delete(sent);
        handled();
      });
    this.#sent.add(sent);
  }

  /** Runs `then` once every cancel sent so far is handled: at once when none is on its way. */
  afterAll(then: () => void): void {
    if (this.#sent.size > 0) void Promise.allSettled([...this.#sent]).then(then);
    else then();
  }
}
