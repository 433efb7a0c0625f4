import type { Socket } from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import type { EngineId } from "../connections/engines.js";
import type { Credentials } from "../connections/settings.js";

/** How to secure a session: the node TLS options, and whether plain TCP is acceptable as a fallback. */
export interface TlsPlan {
  /** undefined = plain TCP (sslMode disable). */
  readonly options: ConnectionOptions | undefined;
  /** sslMode prefer: use TLS when the server offers it, else continue in plain text. */
  readonly fallbackToPlain: boolean;
}

export interface ConnectParams {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly credentials: Credentials;
  readonly tls: TlsPlan;
  readonly connectTimeoutMs: number;
}

/** A driver failure in Berth's vocabulary: a stable reason, the engine's own code, a safe message. */
export interface DriverFailure {
  readonly reason: string;
  readonly code: string;
  readonly message: string;
}

/** One open database session. The data plane extends this with statements, streaming and reset. */
export interface DriverSession {
  serverVersion(): Promise<string>;
  close(): Promise<void>;
  /** Tears the socket down at once (deadline exceeded, caller gone). */
  destroy(): void;
}

export interface Driver {
  readonly engine: EngineId;
  /**
   * Upgrades a fresh TCP connection to TLS the way the engine's protocol does it (PostgreSQL's
   * SSLRequest, MySQL's SSL handshake response), so the `tls` stage can report on TLS alone.
   */
  negotiateTls(socket: Socket, options: ConnectionOptions): Promise<TLSSocket | "not_offered">;
  connect(params: ConnectParams): Promise<DriverSession>;
  describeError(err: unknown): DriverFailure;
}
