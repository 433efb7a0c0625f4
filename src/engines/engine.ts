export type EngineId = "postgresql" | "mysql" | "sqlserver" | "oracle";

export type SslModeId = "disable" | "prefer" | "require" | "verify-ca" | "verify-full";

/**
 * Everything that differs between engines, in one table per engine (src/engines/<id>/index.ts):
 * the defaults a connection gets, what its TLS can and cannot do, and the driver. The rest of
 * Berth reads only this; a fifth engine is one more folder and one line in src/engines/index.ts.
 */
export interface EngineTable {
  readonly id: EngineId;
  readonly label: string;
  readonly defaultPort: number;
  /** What `database` names for this engine, for error messages and docs. */
  readonly databaseMeaning: string;
  /** The cheapest statement that proves a session works (health checks, ping). */
  readonly probeQuery: string;
  /** How a session's state is discarded when it returns to the pool. */
  readonly resetMethod: string;
  /** How statements bind parameters: `$1`, `?`, `@p1`, `:1`. */
  readonly placeholder: string;
  /** The TLS modes this engine's driver can honour; others are refused with `why`. */
  readonly sslModes: readonly SslModeId[];
  readonly sslModeNote?: string;
  /** The mode a connection gets when it names none. */
  readonly defaultSslMode: SslModeId;
  /** Whether tlsServerName (a name to verify other than the host) can be honoured. */
  readonly supportsTlsServerName: boolean;
}
