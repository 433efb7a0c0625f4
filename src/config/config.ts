import { z } from "zod";
import type { VaultTransitOptions } from "../crypto/vault-transit.js";
import { accessPolicyVariables, targetProblems, targetSettings } from "./access-policy-settings.js";
import {
  type AuditSettings,
  auditSettings,
  auditVariables,
  type RetentionPolicy,
  retentionPolicy,
} from "./audit-settings.js";
import { type GoogleSettings, googleSettings, googleVariables } from "./google-settings.js";
import { keyProblems, keyVariables, vaultSettings } from "./key-settings.js";
import {
  type ConnectionLimits,
  connectionLimits,
  type FrontDoorSettings,
  frontDoorSettings,
  limitsVariables,
} from "./limits-settings.js";
import {
  type MetricsSettings,
  metricsSettings,
  observabilityVariables,
  type TracingSettings,
  tracingSettings,
} from "./observability-settings.js";
import { proxyProblems, proxyVariables, type TrustedNetwork, trustedProxies } from "./proxy-settings.js";
import { type LogLevel, listenerVariables, serverVariables } from "./server-variables.js";
import { storeVariables } from "./store-variables.js";
import type { TargetRules } from "./target-rules.js";
import { type ServerTlsSettings, tlsProblems, tlsSettings, tlsVariables } from "./tls-settings.js";

/**
 * Every setting Berth reads, with its default. Parsed once at start-up from the environment,
 * frozen, and passed down; no other module reads process.env (DESIGN §2 rule 3).
 * The groups are listed in this order because zod reports bad variables in the schema's order,
 * and a ConfigError lists them so.
 */
const schema = z.object({
  ...listenerVariables,
  ...storeVariables,
  ...serverVariables,
  ...limitsVariables,
  ...observabilityVariables,
  ...accessPolicyVariables,
  ...proxyVariables,
  ...googleVariables,
  ...auditVariables,
  ...keyVariables,
  ...tlsVariables,
});

/** Rules between variables, each with the variables it names. */
function crossFieldProblems(c: z.infer<typeof schema>): string[] {
  return [...keyProblems(c), ...tlsProblems(c), ...targetProblems(c), ...proxyProblems(c)];
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /**
   * The shared store (PostgreSQL) when set; otherwise SQLite in dataDir. Holds the store's
   * password: never logged (describeStoreUrl gives host, port and database).
   */
  readonly storeUrl: string | undefined;
  /**
   * A 32-byte key, never written anywhere. With SQLite it replaces the keyring file; in shared
   * mode (storeUrl set) it wraps the keyring the store holds.
   */
  readonly masterKey: Buffer | undefined;
  /** The master key being replaced (shared mode): rewrapped from at start. */
  readonly previousMasterKey: Buffer | undefined;
  readonly adminPassword: string | undefined;
  readonly logLevel: LogLevel;
  readonly sessionTtlMs: number;
  readonly testTimeoutMs: number;
  /**
   * A Create that does not say opens the new connection's pool and records its status (the RFC's
   * creation flow). Off by default: a create then answers at once, whatever the database does.
   */
  readonly createInitializesPool: boolean;
  readonly maxBodyBytes: number;
  /** The largest bundle ImportBundle accepts (its request may be that, base64-encoded, and more). */
  readonly maxBundleBytes: number;
  readonly shutdownGraceMs: number;
  /** A dedicated grpc-js port for internal gRPC callers; undefined = none. */
  readonly grpcPort: number | undefined;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly cancelGraceMs: number;
  /** However often it is renewed, a lease or Session stream ends after this long. */
  readonly leaseMaxLifetimeMs: number;
  readonly rowBatchBytes: number;
  readonly healthIntervalMs: number;
  /** How long a sign-in token's principal and an access decision are trusted without the store. */
  readonly authCacheTtlMs: number;
  /** Failed sign-ins of an account from one source within the window before that source is locked out of it. */
  readonly loginFailureLimit: number;
  /** Failed sign-ins from one source, across account names, within the window before the source is locked. */
  readonly loginSourceFailureLimit: number;
  readonly loginFailureWindowMs: number;
  /** Every failed sign-in takes at least this long, whatever failed. */
  readonly loginFailureDelayMs: number;
  /** Google sign-in; off while clientIds is empty. */
  readonly google: GoogleSettings;
  /** Shared rate limits and cache invalidation across instances; undefined = this instance only. */
  readonly redisUrl: string | undefined;
  /** Every Redis command gives up after this long; a timeout counts as Redis being down. */
  readonly redisCommandTimeoutMs: number;
  /**
   * With Redis, the lease of each session's permit of the connection budget shared by the instances:
   * a dead instance's share comes back this long after its last renewal (renewed every third of it).
   */
  readonly budgetTtlMs: number;
  /** Bounds on the HTTP port's connections (slow or silent clients are closed). */
  readonly connectionLimits: ConnectionLimits;
  /** Reverse proxies whose X-Forwarded-For names the client (BERTH_TRUSTED_PROXIES); empty: none. */
  readonly trustedProxies: readonly TrustedNetwork[];
  /** The PostgreSQL front door (BERTH_PG_PORT); undefined when it is off. */
  readonly frontDoor: FrontDoorSettings | undefined;
  /** /metrics: on its own loopback listener (port set), and/or behind a bearer token on the main port. */
  readonly metrics: MetricsSettings;
  /** OpenTelemetry traces: the OTLP/HTTP traces URL (undefined: tracing off) and the service name. */
  readonly tracing: TracingSettings;
  readonly rateLimits: "rfc" | "off";
  /** Refuse connections whose sslMode allows plain text (disable, prefer). */
  readonly requireTls: boolean;
  /** Where connections may point (BERTH_ALLOWED_TARGETS, BERTH_DENIED_TARGETS and the default denials). */
  readonly targets: TargetRules;
  /** How long check results, audit events and inactive connections are kept (0 = forever). */
  readonly retention: RetentionPolicy;
  /** The audit chain's checkpoints (a file outside the store) and its optional JSON-lines copy. */
  readonly audit: AuditSettings;
  /** Which key provider encrypts new secrets. */
  readonly kms: "local" | "vault";
  /** Vault transit, when BERTH_VAULT_ADDR is set (as the provider, or to read secrets it wrote). */
  readonly vault: VaultTransitOptions | undefined;
  /** TLS on Berth's own port; undefined = plaintext. */
  readonly tls: ServerTlsSettings | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws ConfigError naming every bad variable and why. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // Report the variable and the reason, never the value: it may be a secret.
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const c = parsed.data;
  const problems = crossFieldProblems(c);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    host: c.BERTH_HOST,
    port: c.BERTH_PORT,
    dataDir: c.BERTH_DATA_DIR,
    storeUrl: c.BERTH_STORE_URL,
    masterKey: c.BERTH_MASTER_KEY === undefined ? undefined : Buffer.from(c.BERTH_MASTER_KEY, "base64"),
    previousMasterKey:
      c.BERTH_MASTER_KEY_PREVIOUS === undefined
        ? undefined
        : Buffer.from(c.BERTH_MASTER_KEY_PREVIOUS, "base64"),
    adminPassword: c.BERTH_ADMIN_PASSWORD,
    logLevel: c.BERTH_LOG_LEVEL,
    sessionTtlMs: c.BERTH_SESSION_TTL_MS,
    testTimeoutMs: c.BERTH_TEST_TIMEOUT_MS,
    createInitializesPool: c.BERTH_CREATE_INITIALIZES_POOL === "true",
    maxBodyBytes: c.BERTH_MAX_BODY_BYTES,
    maxBundleBytes: c.BERTH_MAX_BUNDLE_BYTES,
    shutdownGraceMs: c.BERTH_SHUTDOWN_GRACE_MS,
    grpcPort: c.BERTH_GRPC_PORT,
    connectTimeoutMs: c.BERTH_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: c.BERTH_STATEMENT_TIMEOUT_MS,
    cancelGraceMs: c.BERTH_CANCEL_GRACE_MS,
    leaseMaxLifetimeMs: c.BERTH_LEASE_MAX_LIFETIME_MS,
    rowBatchBytes: c.BERTH_ROW_BATCH_BYTES,
    healthIntervalMs: c.BERTH_HEALTH_INTERVAL_MS,
    authCacheTtlMs: c.BERTH_AUTH_CACHE_TTL_MS,
    loginFailureLimit: c.BERTH_LOGIN_FAILURE_LIMIT,
    loginSourceFailureLimit: c.BERTH_LOGIN_SOURCE_FAILURE_LIMIT,
    loginFailureWindowMs: c.BERTH_LOGIN_FAILURE_WINDOW_MS,
    loginFailureDelayMs: c.BERTH_LOGIN_FAILURE_DELAY_MS,
    redisUrl: c.BERTH_REDIS_URL,
    redisCommandTimeoutMs: c.BERTH_REDIS_COMMAND_TIMEOUT_MS,
    budgetTtlMs: c.BERTH_BUDGET_TTL_MS,
    frontDoor: frontDoorSettings(c),
    connectionLimits: connectionLimits(c),
    trustedProxies: trustedProxies(c),
    metrics: metricsSettings(c),
    tracing: tracingSettings(c),
    rateLimits: c.BERTH_RATE_LIMITS,
    requireTls: c.BERTH_REQUIRE_TLS === "true",
    targets: targetSettings(c),
    google: googleSettings(c),
    retention: retentionPolicy(c),
    audit: auditSettings(c),
    kms: c.BERTH_KMS,
    vault: vaultSettings(c),
    tls: tlsSettings(c),
  });
}
