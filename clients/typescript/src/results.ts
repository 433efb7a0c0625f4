import { clientError } from "./errors.js";
import type { ExecuteResponse } from "./gen/berth/v1/broker_service_pb.js";
import { type Column, type Row, rowBuilder, toColumn } from "./values.js";

/** How a statement ended. */
export interface Completion {
  /** Rows written (INSERT, UPDATE, DELETE ...) as the engine counts them. */
  rowsAffected: number;
  rowsReturned: number;
  /** SELECT, INSERT, UPDATE, ... as the engine reports it. */
  commandTag: string;
  /** Time on Berth from sending the statement to its last row. */
  durationMs: number;
  /** True when `maxRows` cut the result short. */
  truncated: boolean;
}

export interface QueryResult<R = Row> extends Completion {
  rows: R[];
  columns: Column[];
}

/** Rows read one at a time as they arrive; the server is held back while the reader is slow. */
export interface RowStream<R = Row> extends AsyncIterable<R> {
  /** The result's columns, once the first message has arrived. */
  readonly columns: Column[] | undefined;
  /** How the statement ended, once its last row has been read. */
  readonly completion: Completion | undefined;
}

/** Turns one statement's messages (columns, row batches, completion) into columns, rows and a completion. */
export class ResultAssembly {
  columns: Column[] | undefined;
  completion: Completion | undefined;
  #rowOf: ReturnType<typeof rowBuilder> | undefined;

  /** The rows this message carries, as objects. */
  accept(m: ExecuteResponse): Row[] {
    if (m.columns) {
      this.columns = m.columns.columns.map(toColumn);
      this.#rowOf = rowBuilder(this.columns);
    }
    let rows: Row[] = [];
    if (m.rows && m.rows.rows.length > 0) {
      const rowOf = this.#rowOf ?? rowBuilder([]);
      rows = m.rows.rows.map((r) => rowOf(r.values));
    }
    if (m.complete) {
      const c = m.complete;
      this.completion = {
        rowsAffected: Number(c.rowsAffected),
        rowsReturned: Number(c.rowsReturned),
        commandTag: c.commandTag,
        durationMs: c.durationMs,
        truncated: c.truncated,
      };
    }
    return rows;
  }

  result<R>(rows: R[]): QueryResult<R> {
    const completion = this.completion;
    if (!completion) throw endedEarly();
    return { ...completion, rows, columns: this.columns ?? [] };
  }
}

export function endedEarly() {
  return clientError("UNAVAILABLE", "connection_lost", "The result ended before its completion");
}

/**
 * A RowStream over a source of a statement's messages. The source is opened when iteration
 * starts and closed (cancelling the call) when the reader stops early.
 */
export class MessageRowStream<R> implements RowStream<R> {
  readonly #open: () => AsyncIterator<ExecuteResponse>;
  readonly #assembly = new ResultAssembly();
  #started = false;

  constructor(open: () => AsyncIterator<ExecuteResponse>) {
    this.#open = open;
  }

  get columns() {
    return this.#assembly.columns;
  }

  get completion() {
    return this.#assembly.completion;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<R> {
    if (this.#started)
      throw clientError("FAILED_PRECONDITION", "already_read", "A row stream can be read once");
    this.#started = true;
    const messages = this.#open();
    let finished = false;
    try {
      for (;;) {
        const next = await messages.next();
        if (next.done) break;
        // One batch (about 64 KiB on the wire) decoded at a time: memory stays bounded by it.
        for (const row of this.#assembly.accept(next.value)) yield row as R;
      }
      finished = true;
      if (!this.#assembly.completion) throw endedEarly();
    } finally {
      if (!finished) await messages.return?.();
    }
  }
}
