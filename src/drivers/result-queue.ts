import type { Column, Row, Value } from "../gen/berth/v1/values_pb.js";
import { type QueryChunk, type QueryEvent, type QueryOptions, takeChunk } from "./driver.js";
import { approximateSize, row } from "./values.js";

/** Batches waiting for the consumer before the source is paused. */
const QUEUE_HIGH_WATER = 4;

/**
 * Turns a driver that pushes (columns, then rows, then an end) into the chunks a DriverSession
 * yields when pulled. Rows are batched as they arrive, with no await per row; when the consumer
 * lags by QUEUE_HIGH_WATER batches the source is paused — which stops the driver reading its
 * socket, which holds the server — and it is resumed once the consumer has caught up.
 */
export class ResultQueue {
  readonly #source: { pause(): void; resume(): void };
  readonly #options: QueryOptions;
  readonly #queue: QueryEvent[] = [];
  #wake: (() => void) | undefined;
  #finished = false;
  #failure: unknown;
  #paused = false;
  #abandoned = false;
  #batch: Row[] = [];
  #bytes = 0;
  returned = 0n;
  truncated = false;

  constructor(source: { pause(): void; resume(): void }, options: QueryOptions) {
    this.#source = source;
    this.#options = options;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The consumer is gone: what still arrives is not worth converting (see abandon). */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  columns(columns: Column[]): void {
    this.#push({ kind: "columns", columns });
  }

  /** Adds a row; false (and `truncated`) once maxRows rows have been taken: the row is dropped. */
  row(values: Value[]): boolean {
    if (this.#abandoned) return false;
    if (this.#options.maxRows > 0 && this.returned >= BigInt(this.#options.maxRows)) {
      this.truncated = true;
      return false;
    }
    this.#batch.push(row(values));
    this.returned++;
    for (const v of values) this.#bytes += approximateSize(v);
    if (this.#bytes >= this.#options.batchBytes) this.#flush();
    return true;
  }

  /** The end of the result: an error, or success with what the driver knows of it. */
  end(
    err: unknown,
    outcome: { rowsAffected: bigint; commandTag: string } = { rowsAffected: 0n, commandTag: "" },
  ): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#failure = err;
    if (!err && !this.#abandoned) {
      this.#flush();
      this.#queue.push({
        kind: "complete",
        completion: { ...outcome, truncated: this.truncated, rowsReturned: this.returned },
      });
    }
    this.#signal();
  }

  async *chunks(): AsyncIterable<QueryChunk> {
    for (;;) {
      const next = takeChunk(this.#queue);
      if (next) {
        if (this.#paused && this.#queue.length === 0) {
          this.#paused = false;
          this.#source.resume();
        }
        yield next;
        continue;
      }
      if (this.#finished) {
        if (this.#failure) throw this.#failure;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /**
   * The consumer stopped early and the source must still be read to its end (pg keeps the session's
   * next statement queued until then): what is queued is dropped, what arrives from now on is
   * ignored, and a paused source runs again.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#queue.length = 0;
    this.#batch = [];
    this.#bytes = 0;
    this.release();
  }

  /** Lets a paused source run again (to drain it after the consumer stopped early). */
  release(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#source.resume();
    }
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    this.#push({ kind: "rows", rows: this.#batch });
    this.#batch = [];
    this.#bytes = 0;
  }

  #push(e: QueryEvent): void {
    if (this.#abandoned) return;
    this.#queue.push(e);
    // Once the result has ended there is nothing left to hold back: the source is not paused.
    if (this.#queue.length >= QUEUE_HIGH_WATER && !this.#paused && !this.#finished) {
      this.#paused = true;
      this.#source.pause();
    }
    this.#signal();
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }
}

export function firstKeyword(sql: string): string {
  return /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "";
}
