import type { MessageInitShape } from "@bufbuild/protobuf";
import { type BerthError, clientError, toBerthError } from "./errors.js";
import type { Lease, SessionRequestSchema, SessionResponse } from "./gen/berth/v1/broker_service_pb.js";
import type { RequestQueue } from "./request-queue.js";
import type { Op } from "./session-ops.js";

export type SessionRequestInit = MessageInitShape<typeof SessionRequestSchema>;
export type SessionRequestBody = NonNullable<SessionRequestInit["request"]>;

/** How long past a statement's own timeout the SDK waits for Berth's answer before giving up on the session. */
const ANSWER_GRACE_MS = 2_000;

/**
 * A session stream after it opened: requests are written at once (several in flight), answers are
 * read in order by one reader loop that runs only while something waits for an answer. Anything
 * that breaks the stream fails every waiting request and every later one with the same error.
 */
export class SessionCore {
  readonly lease: Lease;
  readonly #requests: RequestQueue<SessionRequestInit>;
  readonly #responses: AsyncIterator<SessionResponse>;
  readonly #abort: AbortController;
  readonly #ops: Op[] = [];
  #reading = false;
  #broken: BerthError | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerMs = 0;
  #idle: (() => void)[] = [];

  constructor(
    lease: Lease,
    requests: RequestQueue<SessionRequestInit>,
    responses: AsyncIterator<SessionResponse>,
    abort: AbortController,
  ) {
    this.lease = lease;
    this.#requests = requests;
    this.#responses = responses;
    this.#abort = abort;
  }

  get broken(): BerthError | undefined {
    return this.#broken;
  }

  /** Writes a request; its answers go to `op`. */
  send(request: SessionRequestBody, op: Op): void {
    if (this.#broken) {
      op.fail(this.#broken);
      return;
    }
    this.#ops.push(op);
    this.#requests.push({ request });
    if (this.#ops.length === 1) this.#armTimer();
    if (!this.#reading) void this.#read();
  }

  async #read(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#ops.length > 0 && !this.#broken) {
        let next: IteratorResult<SessionResponse>;
        try {
          next = await this.#responses.next();
        } catch (e) {
          this.break(toBerthError(e, this.#abort.signal));
          return;
        }
        if (this.#broken) return;
        if (next.done) {
          this.break(clientError("UNAVAILABLE", "connection_lost", "Berth ended the session stream"));
          return;
        }
        let complete: boolean;
        try {
          complete = await this.#ops[0]!.handle(next.value.event);
        } catch (e) {
          this.break(toBerthError(e));
          return;
        }
        if (complete) {
          this.#ops.shift();
          this.#armTimer();
        }
      }
    } finally {
      this.#reading = false;
      if (this.#ops.length === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /**
   * The oldest request gets its own timeout plus a grace to be answered, or the session is given up.
   * One timer, restarted per request (not a new one twice per statement); while nothing waits it
   * may still run, and finds nothing to time out when it fires.
   */
  #armTimer(): void {
    const head = this.#ops[0];
    if (!head) return;
    const ms = head.timeoutMs + ANSWER_GRACE_MS;
    if (this.#timer && this.#timerMs === ms) {
      this.#timer.refresh();
      return;
    }
    clearTimeout(this.#timer);
    this.#timerMs = ms;
    this.#timer = setTimeout(() => this.#expired(), ms);
  }

  #expired(): void {
    const head = this.#ops[0];
    if (!head) return;
    this.break(
      clientError(
        "DEADLINE_EXCEEDED",
        "timeout",
        `Berth did not answer within ${head.timeoutMs + ANSWER_GRACE_MS} ms; the session was ended`,
      ),
    );
  }

  /** Resolves once no request waits for an answer (or the session broke). */
  idle(): Promise<void> {
    if (this.#ops.length === 0 || this.#broken) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Ends the stream at once: Berth rolls back, resets the session and returns it to its pool. */
  break(err: BerthError, quiet = false): void {
    if (this.#broken) return;
    this.#broken = err;
    clearTimeout(this.#timer);
    this.#requests.end();
    this.#abort.abort(err);
    for (const op of this.#ops.splice(0)) op.fail(err, quiet);
    for (const wake of this.#idle.splice(0)) wake();
  }

  /**
   * Half-closes the stream once every request is answered and waits for Berth to end it, which
   * it does after releasing the lease. Bounded by `timeoutMs`; past it the stream is cut.
   */
  async close(timeoutMs: number): Promise<void> {
    await this.idle();
    if (this.#broken) return;
    this.#requests.end();
    const timer = setTimeout(
      () => this.break(clientError("DEADLINE_EXCEEDED", "timeout", "Berth did not end the session in time")),
      timeoutMs,
    );
    try {
      const next = await this.#responses.next();
      if (!next.done)
        this.break(clientError("INTERNAL", "protocol_error", "An answer arrived after the session ended"));
    } catch (e) {
      this.break(toBerthError(e, this.#abort.signal));
    } finally {
      clearTimeout(timer);
      clearTimeout(this.#timer);
      this.#broken ??= clientError("FAILED_PRECONDITION", "session_ended", "The session has ended");
      this.#abort.abort();
    }
  }
}
