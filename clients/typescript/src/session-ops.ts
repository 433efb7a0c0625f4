import { type BerthError, clientError, fromStatementError } from "./errors.js";
import type { ExecuteResponse, SessionResponse } from "./gen/berth/v1/broker_service_pb.js";
import { type QueryResult, ResultAssembly } from "./results.js";
import type { Row } from "./values.js";

export type SessionEvent = SessionResponse["event"];

/**
 * One request of a session waiting for its answer. Answers come in request order, so the oldest
 * op receives every event until it says it is complete.
 */
export interface Op {
  /** Handles one event; resolves true when it was the op's last. May wait for a slow reader. */
  handle(event: SessionEvent): boolean | Promise<boolean>;
  /**
   * The session broke (or its deadline passed) before the op was answered. `quiet` when the
   * caller's own function already failed: its statements' failures are then not reported again
   * as unhandled rejections.
   */
  fail(err: BerthError, quiet?: boolean): void;
  /** How long the op may wait for its answer once it is the oldest. */
  readonly timeoutMs: number;
}

export function protocolError(what: string): BerthError {
  return clientError("INTERNAL", "protocol_error", `Unexpected ${what} on the session stream`);
}

/** begin, commit or rollback: answered by a transaction event or an error. */
export class ControlOp implements Op {
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (err: BerthError) => void;

  constructor(readonly timeoutMs: number) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  handle(event: SessionEvent): boolean {
    if (event.case === "transaction") this.#resolve();
    else if (event.case === "error") this.#reject(fromStatementError(event.value));
    else throw protocolError(`${event.case ?? "empty"} event in answer to a transaction request`);
    return true;
  }

  fail(err: BerthError, quiet = false): void {
    if (quiet) this.promise.catch(() => undefined);
    this.#reject(err);
  }
}

/** A statement whose whole result is collected. */
export class QueryOp<R = Row> implements Op {
  readonly promise: Promise<QueryResult<R>>;
  readonly #assembly = new ResultAssembly();
  readonly #rows: R[] = [];
  #resolve!: (r: QueryResult<R>) => void;
  #reject!: (err: BerthError) => void;

  constructor(readonly timeoutMs: number) {
    this.promise = new Promise<QueryResult<R>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  handle(event: SessionEvent): boolean {
    if (event.case === "error") {
      this.#reject(fromStatementError(event.value));
      return true;
    }
    if (event.case !== "result")
      throw protocolError(`${event.case ?? "empty"} event in answer to a statement`);
    for (const row of this.#assembly.accept(event.value)) this.#rows.push(row as R);
    if (!event.value.complete) return false;
    this.#resolve(this.#assembly.result(this.#rows));
    return true;
  }

  fail(err: BerthError, quiet = false): void {
    if (quiet) this.promise.catch(() => undefined);
    this.#reject(err);
  }
}

type Waiter = { resolve: (r: IteratorResult<ExecuteResponse>) => void; reject: (e: BerthError) => void };

/**
 * A statement whose messages are handed to a reader one at a time: the session's reader waits
 * until the previous message was taken, so a slow reader holds back the stream (and Berth, and the
 * database). A reader that stops early lets the rest be read and dropped: the session stays usable.
 */
export class StreamOp implements Op {
  #offered: { message: ExecuteResponse; taken: () => void } | undefined;
  #waiter: Waiter | undefined;
  #ended: { error?: BerthError } | undefined;
  #abandoned = false;

  constructor(readonly timeoutMs: number) {}

  handle(event: SessionEvent): boolean | Promise<boolean> {
    if (event.case === "error") {
      this.#finish({ error: fromStatementError(event.value) });
      return true;
    }
    if (event.case !== "result")
      throw protocolError(`${event.case ?? "empty"} event in answer to a statement`);
    const last = event.value.complete !== undefined;
    if (this.#abandoned) return last;
    return new Promise<boolean>((resolve) => {
      this.#offer(event.value, () => resolve(last));
      if (last) this.#ended = {};
    });
  }

  fail(err: BerthError): void {
    // The session is gone: a message not yet taken is dropped, and the reader gets the error.
    this.#offered?.taken();
    this.#offered = undefined;
    this.#finish({ error: err });
  }

  #finish(end: { error?: BerthError }): void {
    this.#ended = end;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (!w || this.#offered) return;
    if (end.error) w.reject(end.error);
    else w.resolve({ done: true, value: undefined });
  }

  #offer(message: ExecuteResponse, taken: () => void): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      taken();
      w.resolve({ done: false, value: message });
    } else {
      this.#offered = { message, taken };
    }
  }

  /** The reader's side. */
  messages(): AsyncIterator<ExecuteResponse> {
    return {
      next: () => {
        const offered = this.#offered;
        if (offered) {
          this.#offered = undefined;
          offered.taken();
          return Promise.resolve({ done: false, value: offered.message });
        }
        if (this.#ended?.error) return Promise.reject(this.#ended.error);
        if (this.#ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve, reject) => {
          this.#waiter = { resolve, reject };
        });
      },
      return: () => {
        this.#abandoned = true;
        this.#offered?.taken();
        this.#offered = undefined;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}
