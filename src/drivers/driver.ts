import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import type { Credentials, EngineOptions, SshSettings } from "../connections/settings.js";
import type { EngineId } from "../engines/engine.js";
import type { Column, Row, Value } from "../gen/berth/v1/values_pb.js";

/** How to secure a session: the node TLS options, and whether plain TCP is acceptable as a fallback. */
export interface TlsPlan {
  /** undefined = plain TCP (sslMode disable). */
  readonly options: ConnectionOptions | undefined;
  /** sslMode prefer: use TLS when the server offers it, else continue in plain text. */
  readonly fallbackToPlain: boolean;
  /** What is checked of the server's certificate, for drivers that take flags rather than node options. */
  readonly verify: "none" | "chain" | "full";
}

export interface ConnectParams {
  /** The host as configured: the name TLS presents and verifies, and the one messages show. */
  readonly host: string;
  /**
   * The address the target policy checked `host` to resolve to: the socket goes there, never to a
   * fresh lookup of `host` (src/connections/target-guard.ts). Absent: the driver connects to `host`.
   */
  readonly address?: string;
  readonly port: number;
  readonly database: string;
  readonly credentials: Credentials;
  readonly tls: TlsPlan;
  readonly connectTimeoutMs: number;
  readonly engineOptions: EngineOptions;
  /**
   * The SSH bastion to reach the database through; `host` and `port` are then as the bastion sees
   * them. `address` is the bastion's address the target policy checked. The tunnelling driver
   * (src/drivers/ssh/tunnel-driver.ts) turns this into `dial`.
   */
  readonly ssh?: (SshSettings & { readonly address?: string | undefined }) | undefined;
  /**
   * Opens the byte stream to the database some other way than TCP (a channel of an SSH tunnel).
   * Drivers that honour it (PostgreSQL, MySQL) use it for every socket of the session, cancels
   * included.
   */
  readonly dial?: (() => Duplex) | undefined;
}

/** A driver failure in Berth's vocabulary: a stable reason, the engine's own code, a safe message. */
export interface DriverFailure {
  readonly reason: string;
  readonly code: string;
  readonly message: string;
}

export type IsolationLevelId = "read_uncommitted" | "read_committed" | "repeatable_read" | "serializable";

export interface QueryOptions {
  /** Stop after this many rows (0 = all); the completion reports `truncated`. */
  readonly maxRows: number;
  /** Cut row batches at about this many bytes. */
  readonly batchBytes: number;
}

export interface Completion {
  rowsAffected: bigint;
  commandTag: string;
  truncated: boolean;
  rowsReturned: bigint;
}

/** What a driver produces, in order: columns (once), row batches, one completion. */
export type QueryEvent =
  | { readonly kind: "columns"; readonly columns: Column[] }
  | { readonly kind: "rows"; readonly rows: Row[] }
  | { readonly kind: "complete"; readonly completion: Completion };

/**
 * What a statement yields: every event that was ready at once, packed together (at most one batch
 * of rows). A small result is one chunk; on the wire, one message instead of three.
 */
export interface QueryChunk {
  columns?: Column[];
  rows?: Row[];
  completion?: Completion;
}

/** Takes the events at the head of a queue that can travel together; undefined when it is empty. */
export function takeChunk(queue: QueryEvent[]): QueryChunk | undefined {
  if (queue.length === 0) return undefined;
  const chunk: QueryChunk = {};
  while (queue.length > 0) {
    const e = queue[0]!;
    if (e.kind === "columns" && !chunk.columns && !chunk.rows) chunk.columns = e.columns;
    else if (e.kind === "rows" && !chunk.rows) chunk.rows = e.rows;
    else if (e.kind === "complete") chunk.completion = e.completion;
    else break;
    queue.shift();
    if (chunk.completion) break;
  }
  return chunk;
}

/** What a protocol proxy does with a lent socket's bytes, and how it learns the socket is gone. */
export interface WireHandler {
  data(chunk: Buffer): void;
  lost(): void;
}

/**
 * A session's socket lent to a protocol proxy (the PostgreSQL front door) while the session is
 * borrowed and its driver idle: the proxy reads and writes the database's own protocol directly.
 */
export interface WireChannel {
  /** What the server reported at sign-in (ParameterStatus: server_version, encodings, ...). */
  readonly serverParameters: ReadonlyMap<string, string>;
  readonly socket: Duplex;
  /** Routes the socket's bytes to `handler` instead of the driver, until give(). */
  take(handler: WireHandler): void;
  /** Hands the bytes back to the driver, telling it the transaction status the proxy left. */
  give(txStatus: string): void;
}

/** One open database session. */
export interface DriverSession {
  /** Present where the engine's protocol can be proxied as is (PostgreSQL). */
  wire?(): WireChannel;
  serverVersion(): Promise<string>;
  /**
   * Runs one statement with bound parameters and yields its results. Rows are read from the server
   * only as fast as the consumer pulls (backpressure); stopping early leaves the session usable.
   */
  query(sql: string, params: readonly Value[], options: QueryOptions): AsyncIterable<QueryChunk>;
  /** Asks the server to cancel the statement running on this session now, from another connection. */
  cancel(): Promise<void>;
  begin(isolation: IsolationLevelId | undefined, readOnly: boolean): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Rolls back and discards session state (settings, temp tables, prepared statements). */
  reset(): Promise<void>;
  /** A cheap round trip. */
  ping(): Promise<void>;
  /** False once the socket has failed or closed; such a session is only fit to be destroyed. */
  readonly healthy: boolean;
  close(): Promise<void>;
  /** Tears the socket down at once (deadline exceeded, caller gone). */
  destroy(): void;
}

export interface Driver {
  readonly engine: EngineId;
  /**
   * The port to open when the configuration does not give one (a SQL Server named instance, which
   * the SQL Server Browser resolves). Absent: the configured port is used as is.
   */
  locate?(host: string, options: EngineOptions, timeoutMs: number): Promise<{ port: number; via: string }>;
  /**
   * Upgrades a fresh TCP connection to TLS the way the engine's protocol does it (PostgreSQL's
   * SSLRequest, MySQL's SSL handshake response), so the `tls` stage can report on TLS alone.
   */
  negotiateTls(
    socket: Socket,
    options: ConnectionOptions,
    engineOptions: EngineOptions,
  ): Promise<TLSSocket | "not_offered">;
  connect(params: ConnectParams): Promise<DriverSession>;
  describeError(err: unknown): DriverFailure;
  /** Whether an error means the session is unusable (socket gone) rather than the statement failed. */
  isConnectionError(err: unknown): boolean;
}
