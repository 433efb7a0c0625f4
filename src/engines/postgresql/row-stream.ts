import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { type QueryChunk, type QueryEvent, takeChunk } from "../../drivers/driver.js";
import { approximateSize, column, row } from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";
import { pgConverter, pgTypeName } from "./values.js";

// pg's own parameter serializer (arrays, Buffers, Dates, JSON), so parameters bind exactly as with pg.
const { prepareValue } = createRequire(import.meta.url)("pg/lib/utils.js") as {
  prepareValue(v: unknown): unknown;
};

/** What pg hands a Submittable: the wire connection with its message writers. */
interface PgConnection {
  stream: Socket;
  parse(m: { text: string; types: unknown[] }): void;
  bind(m: { values: unknown[]; valueMapper: (v: unknown) => unknown }): void;
  describe(m: { type: "P"; name: string }): void;
  execute(m: { rows: number }): void;
  sync(): void;
}

interface Field {
  name: string;
  dataTypeID: number;
}

/** Batches waiting for the consumer before the socket is paused (TCP then holds the server back). */
const QUEUE_HIGH_WATER = 4;

/**
 * One statement on pg's extended protocol, as a pg Submittable: Parse, Bind, Describe, Execute and
 * Sync go out in a single write (one round trip, like pg's own query), and rows are handed on in
 * byte-bounded batches as they arrive. When the consumer falls behind, the socket is paused, so the
 * server waits instead of Berth buffering. `max_rows` becomes the Execute row limit (+1, to learn
 * whether the result was cut), so a long result stops on the server, not in Berth.
 */
export class PgRowStream {
  readonly #text: string;
  readonly #values: unknown[];
  readonly #maxRows: number;
  readonly #batchBytes: number;
  #connection: PgConnection | undefined;
  #converters: ((t: string | null) => Value)[] = [];
  #batch: ReturnType<typeof row>[] = [];
  #bytes = 0;
  #returned = 0;
  #truncated = false;
  #commandTag = "";
  #rowsAffected = 0n;
  #error: Error | undefined;
  #done = false;
  #paused = false;
  #abandoned = false;
  readonly #queue: QueryEvent[] = [];
  #wake: (() => void) | undefined;

  constructor(text: string, values: unknown[], options: { maxRows: number; batchBytes: number }) {
    this.#text = text;
    this.#values = values;
    this.#maxRows = options.maxRows;
    this.#batchBytes = options.batchBytes;
  }

  // --- pg Submittable ---------------------------------------------------------------------------

  submit(connection: PgConnection): null {
    this.#connection = connection;
    connection.stream.cork();
    try {
      connection.parse({ text: this.#text, types: [] });
      connection.bind({ values: this.#values, valueMapper: prepareValue });
      connection.describe({ type: "P", name: "" });
      connection.execute({ rows: this.#maxRows > 0 ? this.#maxRows + 1 : 0 });
      connection.sync();
    } finally {
      connection.stream.uncork();
    }
    return null;
  }

  handleRowDescription(msg: { fields: Field[] }): void {
    this.#converters = msg.fields.map((f) => pgConverter(f.dataTypeID));
    if (msg.fields.length > 0) {
      this.#push({
        kind: "columns",
        columns: msg.fields.map((f) => column(f.name, pgTypeName(f.dataTypeID))),
      });
    }
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    if (this.#abandoned) return;
    if (this.#maxRows > 0 && this.#returned >= this.#maxRows) {
      this.#truncated = true;
      return;
    }
    const values = msg.fields.map((t, i) => this.#converters[i]!(t));
    this.#batch.push(row(values));
    this.#returned++;
    for (const v of values) this.#bytes += approximateSize(v);
    if (this.#bytes >= this.#batchBytes) this.#flushBatch();
  }

  handleCommandComplete(msg: { text: string }): void {
    this.#commandTag = msg.text.split(" ")[0] ?? "";
    const n = /(\d+)$/.exec(msg.text);
    this.#rowsAffected = n ? BigInt(n[1]!) : 0n;
  }

  handlePortalSuspended(): void {
    // The Execute row limit was reached: the result had more rows than max_rows.
    this.#truncated = true;
  }

  handleEmptyQuery(): void {}

  handleError(err: Error): void {
    // pg drops its active query on an error, so no ReadyForQuery follows for this statement.
    this.#error ??= err;
    this.#finish();
  }

  handleReadyForQuery(): void {
    this.#finish();
  }

  // --- consumer side ----------------------------------------------------------------------------

  async *events(): AsyncGenerator<QueryChunk> {
    for (;;) {
      const next = takeChunk(this.#queue);
      if (next) {
        if (this.#paused && this.#queue.length === 0) {
          this.#paused = false;
          this.#connection?.stream.resume();
        }
        yield next;
        continue;
      }
      if (this.#done) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /**
   * The consumer stopped early: the rest of the result is read off the socket and dropped (pg's
   * queue holds the session's next statement until then), never converted or queued.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#queue.length = 0;
    this.#batch = [];
    if (this.#paused) {
      this.#paused = false;
      this.#connection?.stream.resume();
    }
  }

  get finished(): boolean {
    return this.#done;
  }

  #flushBatch(): void {
    if (this.#batch.length === 0) return;
    this.#push({ kind: "rows", rows: this.#batch });
    this.#batch = [];
    this.#bytes = 0;
  }

  #finish(): void {
    if (this.#done) return;
    if (!this.#error) {
      this.#flushBatch();
      this.#push({
        kind: "complete",
        completion: {
          rowsAffected: this.#rowsAffected,
          commandTag: this.#commandTag,
          truncated: this.#truncated,
          rowsReturned: BigInt(this.#returned),
        },
      });
    }
    this.#done = true;
    if (this.#paused) {
      this.#paused = false;
      this.#connection?.stream.resume();
    }
    this.#wake?.();
  }

  #push(event: QueryEvent): void {
    if (this.#abandoned) return;
    this.#queue.push(event);
    if (this.#queue.length >= QUEUE_HIGH_WATER && !this.#paused && !this.#done) {
      this.#paused = true;
      this.#connection?.stream.pause();
    }
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
