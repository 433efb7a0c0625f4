import type { EventEmitter } from "node:events";
import { connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import type pg from "pg";
import type {
  DriverSession,
  IsolationLevelId,
  QueryChunk,
  QueryOptions,
  WireChannel,
  WireHandler,
} from "../../drivers/driver.js";
import { valueToDriverParam } from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";
import { PgRowStream } from "./row-stream.js";
import { TABLE } from "./table.js";

const ISOLATION_SQL: Record<IsolationLevelId, string> = {
  read_uncommitted: "READ UNCOMMITTED",
  read_committed: "READ COMMITTED",
  repeatable_read: "REPEATABLE READ",
  serializable: "SERIALIZABLE",
};

interface PgInternals {
  processID: number | null;
  secretKey: number | null;
}

export class PostgresSession implements DriverSession {
  readonly #client: pg.Client;
  readonly #host: string;
  readonly #port: number;
  #healthy = true;
  /** Waits on the server that must fail if the connection breaks (so none can hang). */
  readonly #onBreak = new Set<(err: Error) => void>();
  #breakError: Error | undefined;
  /** The backend's transaction status from its last ReadyForQuery: I idle, T in a transaction, E failed one. */
  #txStatus = "I";

  readonly #serverParameters: ReadonlyMap<string, string>;

  /** Opens the cancel request's socket through the SSH tunnel the session came through, if any. */
  readonly #dial: (() => Duplex) | undefined;

  constructor(
    client: pg.Client,
    host: string,
    port: number,
    serverParameters = new Map<string, string>(),
    dial?: () => Duplex,
  ) {
    this.#client = client;
    this.#dial = dial;
    this.#serverParameters = serverParameters;
    this.#host = host;
    this.#port = port;
    (client as unknown as { connection: EventEmitter }).connection.on(
      "readyForQuery",
      (msg: { status: string }) => {
        this.#txStatus = msg.status;
      },
    );
    const broken = (err?: Error) => {
      this.#healthy = false;
      this.#breakError ??= Object.assign(err ?? new Error("Connection terminated unexpectedly"), {
        code: (err as { code?: string })?.code ?? "ECONNRESET",
      });
      for (const fail of this.#onBreak) fail(this.#breakError);
      this.#onBreak.clear();
    };
    client.on("error", broken);
    client.on("end", () => broken());
  }

  get healthy(): boolean {
    // A socket the server closed can sit in the pool a moment before pg reports it (a crashed
    // server's connections all end at once): not writable is not healthy, whatever pg says yet.
    return this.#healthy && this.#stream().writable;
  }

  #stream(): Duplex {
    return (this.#client as unknown as { connection: { stream: Duplex } }).connection.stream;
  }

  /**
   * pg-cursor can leave a read unsettled when the socket dies mid-protocol; this fails it instead.
   * (Not Promise.race against a long-lived promise: each race would leave a reaction on it that
   * keeps the race's result — a whole batch of rows — alive for the session's lifetime.)
   */
  #unlessBroken<T>(pending: Promise<T>): Promise<T> {
    if (this.#breakError) {
      pending.catch(() => {});
      return Promise.reject(this.#breakError);
    }
    return new Promise<T>((resolve, reject) => {
      this.#onBreak.add(reject);
      pending.then(
        (value) => {
          this.#onBreak.delete(reject);
          resolve(value);
        },
        (err) => {
          this.#onBreak.delete(reject);
          reject(err);
        },
      );
    });
  }

  #wire: WireChannel | undefined;

  /**
   * The socket, lent while pg is idle (between its queries, which is all the time the session is
   * borrowed by the front door). One router, installed once, sends the socket's bytes to pg's parser
   * or to the borrower: swapping listeners per transaction would cost more than the transaction.
   * pg sees none of the proxied bytes and resumes, with nothing half-read, once the proxy gives the
   * socket back at a ReadyForQuery.
   */
  wire(): WireChannel {
    if (this.#wire) return this.#wire;
    const socket = this.#stream();
    const driverListeners = socket.listeners("data") as ((chunk: Buffer) => void)[];
    socket.removeAllListeners("data");
    let owner: WireHandler | undefined;
    socket.on("data", (chunk: Buffer) => {
      if (owner) owner.data(chunk);
      else for (const listener of driverListeners) listener.call(socket, chunk);
    });
    const lost = () => owner?.lost();
    socket.on("close", lost);
    socket.on("end", lost);
    this.#wire = {
      serverParameters: this.#serverParameters,
      socket,
      take: (handler) => {
        owner = handler;
        // Its close may have come while pg held it, unseen by the borrower: tell it now, or it waits forever.
        if (socket.destroyed || !socket.writable)
          queueMicrotask(() => {
            if (owner === handler) handler.lost();
          });
      },
      give: (txStatus) => {
        owner = undefined;
        this.#txStatus = txStatus;
        if (socket.isPaused()) socket.resume();
      },
    };
    return this.#wire;
  }

  async serverVersion(): Promise<string> {
    const r = await this.#client.query<{ v: string }>("select current_setting('server_version') as v");
    return `PostgreSQL ${r.rows[0]?.v ?? "unknown"}`;
  }

  async *query(sql: string, params: readonly Value[], options: QueryOptions): AsyncIterable<QueryChunk> {
    const stream = new PgRowStream(sql, params.map(valueToDriverParam), options);
    this.#client.query(stream as never);
    const events = stream.events();
    try {
      for (;;) {
        const next = await this.#unlessBroken(events.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Stopped early (the caller went away): drop the rest of the result as it arrives.
      if (!stream.finished) stream.abandon();
    }
  }

  /**
   * PostgreSQL's CancelRequest: a fresh TCP connection carrying the backend's process id and secret
   * key. Needs no sign-in, so it works even when the pool is exhausted.
   */
  async cancel(): Promise<void> {
    const { processID, secretKey } = this.#client as unknown as PgInternals;
    if (processID === null || secretKey === null) return;
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(processID, 8);
    packet.writeInt32BE(secretKey, 12);
    await new Promise<void>((resolve) => {
      let socket: Duplex;
      if (this.#dial) {
        socket = this.#dial();
        socket.once("connect", () => socket.end(packet));
        setTimeout(() => socket.destroy(), 2000).unref();
      } else {
        const tcp = tcpConnect({ host: this.#host, port: this.#port }, () => tcp.end(packet));
        tcp.setTimeout(2000, () => tcp.destroy());
        socket = tcp;
      }
      socket.once("close", () => resolve());
      socket.once("error", () => resolve());
    });
  }

  async begin(isolation: IsolationLevelId | undefined, readOnly: boolean): Promise<void> {
    const parts = ["BEGIN"];
    if (isolation) parts.push(`ISOLATION LEVEL ${ISOLATION_SQL[isolation]}`);
    if (readOnly) parts.push("READ ONLY");
    await this.#client.query(parts.join(" "));
  }

  async commit(): Promise<void> {
    await this.#client.query("COMMIT");
  }

  async rollback(): Promise<void> {
    await this.#client.query("ROLLBACK");
  }

  async reset(): Promise<void> {
    // DISCARD ALL refuses to run inside a transaction block (and a multi-statement query is one), so
    // roll back first only when the server says a transaction is open.
    if (this.#txStatus !== "I") await this.#client.query("ROLLBACK");
    await this.#client.query("DISCARD ALL");
  }

  async ping(): Promise<void> {
    await this.#client.query(TABLE.probeQuery);
  }

  async close(): Promise<void> {
    this.#healthy = false;
    await this.#client.end();
  }

  destroy(): void {
    this.#healthy = false;
    const socket = (this.#client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
      ?.stream;
    socket?.destroy();
    void this.#client.end().catch(() => {});
  }
}
