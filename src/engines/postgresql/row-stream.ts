import { createRequire } from "node:module";
import type { Socket } from "node:net";
import type { QueryChunk, QueryOptions } from "../../drivers/driver.js";
import { ResultQueue } from "../../drivers/result-queue.js";
import { column } from "../../drivers/values.js";
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

/**
 * One statement on pg's extended protocol, as a pg Submittable: Parse, Bind, Describe, Execute and
 * Sync go out in a single write (one round trip, like pg's own query), and rows go into the shared
 * ResultQueue, which batches them by bytes and pauses the socket when the consumer falls behind (so
 * the server waits instead of Berth buffering). `max_rows` becomes the Execute row limit (+1, to
 * learn whether the result was cut), so a long result stops on the server, not in Berth.
 */
export class PgRowStream {
  readonly #text: string;
  readonly #values: unknown[];
  readonly #maxRows: number;
  readonly #result: ResultQueue;
  #connection: PgConnection | undefined;
  #converters: ((t: string | null) => Value)[] = [];
  #commandTag = "";
  #rowsAffected = 0n;

  constructor(text: string, values: unknown[], options: QueryOptions) {
    this.#text = text;
    this.#values = values;
    this.#maxRows = options.maxRows;
    // The socket is known only once pg submits the statement.
    this.#result = new ResultQueue(
      {
        pause: () => this.#connection?.stream.pause(),
        resume: () => this.#connection?.stream.resume(),
      },
      options,
    );
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
      this.#result.columns(msg.fields.map((f) => column(f.name, pgTypeName(f.dataTypeID))));
    }
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    // Rows nobody will read are not converted: past max_rows, or after the consumer went away.
    if (this.#result.abandoned || this.#result.truncated) return;
    this.#result.row(msg.fields.map((t, i) => this.#converters[i]!(t)));
  }

  handleCommandComplete(msg: { text: string }): void {
    this.#commandTag = msg.text.split(" ")[0] ?? "";
    const n = /(\d+)$/.exec(msg.text);
    this.#rowsAffected = n ? BigInt(n[1]!) : 0n;
  }

  handlePortalSuspended(): void {
    // The Execute row limit was reached: the result had more rows than max_rows.
    this.#result.truncated = true;
  }

  handleEmptyQuery(): void {}

  handleError(err: Error): void {
    // pg drops its active query on an error, so no ReadyForQuery follows for this statement.
    this.#finish(err);
  }

  handleReadyForQuery(): void {
    this.#finish(undefined);
  }

  // --- consumer side ----------------------------------------------------------------------------

  events(): AsyncIterator<QueryChunk> {
    return this.#result.chunks()[Symbol.asyncIterator]();
  }

  /**
   * The consumer stopped early: the rest of the result is read off the socket and dropped (pg's
   * queue holds the session's next statement until then), never converted or queued.
   */
  abandon(): void {
    this.#result.abandon();
  }

  get finished(): boolean {
    return this.#result.finished;
  }

  #finish(err: Error | undefined): void {
    this.#result.end(err, { rowsAffected: this.#rowsAffected, commandTag: this.#commandTag });
    // Nothing more of this statement will arrive: the socket must flow for the session's next one.
    this.#result.release();
  }
}
