import { join } from "node:path";
import { z } from "zod";
import type { VaultTransitOptions } from "../crypto/vault-transit.js";
import { DEFAULT_DENIED_TARGETS, parseTargetList, type TargetRules } from "./target-rules.js";

// The shapes of two settings groups live here, below the modules that use them (identity/google.ts,
// audit/retention.ts), so that config depends on nothing above it.
export interface GoogleSettings {
  /** OAuth client ids whose ID tokens are accepted (the `aud` claim). Empty: Google sign-in is off. */
  clientIds: readonly string[];
  jwksUrl: string;
  issuers: readonly string[];
  /** When set, the token's `hd` claim must equal it. */
  hostedDomain: string | undefined;
  /** When set, only addresses in these domains are provisioned on first sign-in. */
  allowedDomains: readonly string[];
}

/** The PostgreSQL front door's port and bounds. */
export interface FrontDoorSettings {
  /** 0: any free port. */
  readonly port: number;
  readonly maxClients: number;
  readonly maxClientsPerSource: number;
  /** Startup and sign-in must be done within this (BERTH_HEADERS_TIMEOUT_MS). */
  readonly startupTimeoutMs: number;
}

/** How long things are kept (RFC 002 §9.1): 0 = forever. */
export interface RetentionPolicy {
  /** Connection test and validation results (the latest per connection is always kept). */
  checksDays: number;
  /** Audit events. */
  auditDays: number;
  /** Connections nobody changed, tested or used for this long are deleted. */
  inactiveConnectionDays: number;
}

/**
 * Every setting Berth reads, with its default. Parsed once at start-up from the environment,
 * frozen, and passed down; no other module reads process.env (DESIGN §2 rule 3).
 */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveMs = (fallback: number) => z.coerce.number().int().min(1).max(86_400_000).default(fallback);

const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full", "no-verify"];

/** A postgres:// URL pg can use; the reasons never repeat the value (it may hold a password). */
function storeUrlProblems(value: string | undefined, ctx: z.RefinementCtx): void {
  if (value === undefined) return;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a URL: postgres://user:password@host:5432/database" });
    return;
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:")
    ctx.addIssue({ code: "custom", message: "must be a postgres:// (or postgresql://) URL" });
  else if (u.hostname === "" && !u.searchParams.get("host"))
    ctx.addIssue({ code: "custom", message: "must name the server: postgres://user:password@host/database" });
  else if (u.pathname.length <= 1)
    ctx.addIssue({
      code: "custom",
      message: "must name the database: postgres://user:password@host/database",
    });
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode !== null && !SSL_MODES.includes(sslmode))
    ctx.addIssue({ code: "custom", message: `sslmode must be one of ${SSL_MODES.join(", ")}` });
}

/** An OTLP/HTTP endpoint: http(s) only (`collector:4318` parses as a URL of scheme "collector:"). */
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), "must be an http:// or https:// URL");

const schema = z.object({
  BERTH_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_PORT: port(8080),
  BERTH_DATA_DIR: z.string().min(1).default("./data"),
  BERTH_STORE_URL: z.string().optional().superRefine(storeUrlProblems),
  BERTH_MASTER_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || Buffer.from(v, "base64").length === 32, {
      message: "must be 32 bytes encoded as base64 (for example: openssl rand -base64 32)",
    }),
  BERTH_ADMIN_PASSWORD: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.length >= 12, { message: "must be at least 12 characters" }),
  BERTH_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  BERTH_SESSION_TTL_MS: positiveMs(12 * 3_600_000),
  BERTH_TEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(5_000),
  BERTH_CREATE_INITIALIZES_POOL: z.enum(["true", "false"]).default("false"),
  BERTH_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  // The bundle import's own body limit (README, Bundles): a bundle may hold 16 MiB (the format's cap).
  BERTH_MAX_BUNDLE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  BERTH_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  BERTH_GRPC_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BERTH_PG_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BERTH_PG_MAX_CLIENTS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  BERTH_PG_MAX_CLIENTS_PER_SOURCE: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  BERTH_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  BERTH_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  BERTH_CANCEL_GRACE_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  BERTH_LEASE_MAX_LIFETIME_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(7 * 24 * 3_600_000)
    .default(24 * 3_600_000),
  BERTH_ROW_BATCH_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(4 * 1024 * 1024)
    .default(64 * 1024),
  BERTH_HEALTH_INTERVAL_MS: z.coerce.number().int().min(500).max(3_600_000).default(10_000),
  BERTH_AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
  BERTH_LOGIN_FAILURE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(100),
  BERTH_LOGIN_FAILURE_WINDOW_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(3_600_000),
  BERTH_LOGIN_FAILURE_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(250),
  BERTH_LOGIN_SOURCE_FAILURE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(300),
  BERTH_REDIS_URL: z.string().url().optional(),
  BERTH_REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(300),
  BERTH_BUDGET_TTL_MS: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
  BERTH_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  BERTH_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  BERTH_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(65_000),
  BERTH_MAX_CONNECTIONS_PER_SOURCE: z.coerce.number().int().min(1).max(1_000_000).default(256),
  BERTH_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BERTH_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  // OpenTelemetry traces: off unless an OTLP/HTTP endpoint is given (Berth's, or the standard ones).
  BERTH_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default("berth"),
  BERTH_REQUIRE_TLS: z.enum(["true", "false"]).default("false"),
  BERTH_ALLOWED_TARGETS: z.string().optional(),
  BERTH_DENIED_TARGETS: z.string().default(""),
  BERTH_RATE_LIMITS: z.enum(["rfc", "off"]).default("rfc"),
  BERTH_GOOGLE_CLIENT_IDS: z.string().default(""),
  BERTH_GOOGLE_JWKS_URL: z.string().url().default("https://www.googleapis.com/oauth2/v3/certs"),
  BERTH_GOOGLE_ISSUERS: z.string().default("accounts.google.com,https://accounts.google.com"),
  BERTH_GOOGLE_HOSTED_DOMAIN: z.string().optional(),
  BERTH_GOOGLE_ALLOWED_DOMAINS: z.string().default(""),
  BERTH_RETENTION_CHECKS_DAYS: z.coerce.number().int().min(0).max(36_500).default(30),
  BERTH_RETENTION_AUDIT_DAYS: z.coerce.number().int().min(0).max(36_500).default(90),
  // RFC 002 §9.1: inactive connections are kept 6 months.
  BERTH_RETENTION_INACTIVE_CONNECTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(183),
  BERTH_AUDIT_CHECKPOINT_FILE: z.string().optional(),
  BERTH_AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(1).max(1_000_000).default(100),
  BERTH_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  BERTH_AUDIT_EXPORT: z
    .string()
    .regex(/^(stdout|file:.+)$/, 'must be "stdout" or "file:<path>"')
    .optional(),
  BERTH_KMS: z.enum(["local", "vault"]).default("local"),
  BERTH_VAULT_ADDR: z.string().url().optional(),
  BERTH_VAULT_TOKEN: z.string().optional(),
  BERTH_VAULT_ROLE_ID: z.string().optional(),
  BERTH_VAULT_SECRET_ID: z.string().optional(),
  BERTH_VAULT_APPROLE_MOUNT: z
    .string()
    .regex(/^[\w-]+(\/[\w-]+)*$/, "must be a mount path")
    .default("approle"),
  BERTH_VAULT_TRANSIT_MOUNT: z
    .string()
    .regex(/^[\w-]+(\/[\w-]+)*$/, "must be a mount path")
    .default("transit"),
  BERTH_VAULT_KEY: z
    .string()
    .regex(/^[\w.-]+$/, "must be a transit key name")
    .default("berth"),
  BERTH_VAULT_NAMESPACE: z.string().optional(),
  BERTH_VAULT_CACERT: z.string().optional(),
  BERTH_VAULT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(1_500),
  BERTH_VAULT_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  BERTH_TLS_CERT_FILE: z.string().optional(),
  BERTH_TLS_KEY_FILE: z.string().optional(),
  BERTH_TLS_CLIENT_CA_FILE: z.string().optional(),
  BERTH_TLS_CLIENT_AUTH: z.enum(["optional", "require"]).default("optional"),
});

/** Rules between variables, each with the variables it names. */
function crossFieldProblems(c: z.infer<typeof schema>): string[] {
  const problems: string[] = [];
  if (c.BERTH_KMS === "vault" && !c.BERTH_VAULT_ADDR)
    problems.push("BERTH_VAULT_ADDR: is required with BERTH_KMS=vault");
  // Shared mode: a keyring file per instance would make each unable to read what the others wrote.
  if (c.BERTH_STORE_URL && c.BERTH_KMS !== "vault" && !c.BERTH_MASTER_KEY)
    problems.push(
      "BERTH_MASTER_KEY: is required with BERTH_STORE_URL (shared mode) unless BERTH_KMS=vault: the keyring lives in the store, wrapped by this key, and every instance needs the same one (make one with: openssl rand -base64 32)",
    );
  if (c.BERTH_VAULT_ADDR && !c.BERTH_VAULT_TOKEN && !(c.BERTH_VAULT_ROLE_ID && c.BERTH_VAULT_SECRET_ID))
    problems.push(
      "BERTH_VAULT_TOKEN: is required with BERTH_VAULT_ADDR (or BERTH_VAULT_ROLE_ID and BERTH_VAULT_SECRET_ID for AppRole)",
    );
  if (Boolean(c.BERTH_VAULT_ROLE_ID) !== Boolean(c.BERTH_VAULT_SECRET_ID))
    problems.push("BERTH_VAULT_SECRET_ID: AppRole needs both BERTH_VAULT_ROLE_ID and BERTH_VAULT_SECRET_ID");
  if (Boolean(c.BERTH_TLS_CERT_FILE) !== Boolean(c.BERTH_TLS_KEY_FILE))
    problems.push("BERTH_TLS_KEY_FILE: TLS needs both BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE");
  if (c.BERTH_TLS_CLIENT_CA_FILE && !c.BERTH_TLS_CERT_FILE)
    problems.push(
      "BERTH_TLS_CLIENT_CA_FILE: client certificates need TLS (BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE)",
    );
  if (c.BERTH_TLS_CERT_FILE && c.BERTH_GRPC_PORT !== undefined)
    problems.push(
      "BERTH_GRPC_PORT: the dedicated gRPC port serves plaintext only; with TLS, use the main port for gRPC",
    );
  for (const name of ["BERTH_ALLOWED_TARGETS", "BERTH_DENIED_TARGETS"] as const)
    for (const p of parseTargetList(c[name] ?? "").problems) problems.push(`${name}: ${p}`);
  if (c.BERTH_ALLOWED_TARGETS !== undefined && parseTargetList(c.BERTH_ALLOWED_TARGETS).rules.length === 0)
    problems.push(
      "BERTH_ALLOWED_TARGETS: lists no target (it would allow none); leave it unset to allow any",
    );
  return problems;
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
  readonly adminPassword: string | undefined;
  readonly logLevel: z.infer<typeof schema>["BERTH_LOG_LEVEL"];
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
  /** The PostgreSQL front door (BERTH_PG_PORT); undefined when it is off. */
  readonly frontDoor: FrontDoorSettings | undefined;
  /** /metrics: on its own loopback listener (port set), and/or behind a bearer token on the main port. */
  readonly metrics: MetricsSettings;
  /** OpenTelemetry traces: the OTLP/HTTP traces URL (undefined: tracing off) and the service name. */
  readonly tracing: { readonly endpoint: string | undefined; readonly serviceName: string };
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

export interface AuditSettings {
  /** Append-only file of signed checkpoints; default <dataDir>/audit-checkpoints.jsonl. */
  readonly checkpointFile: string;
  /** A checkpoint after this many events… */
  readonly checkpointEvery: number;
  /** …or after this long when events came (0 = by count only). */
  readonly checkpointIntervalMs: number;
  /** "stdout" or "file:<path>": every event as a JSON line; undefined = none. */
  readonly export: string | undefined;
}

export interface ConnectionLimits {
  /** A new connection must send a complete request head (HTTP/1) or open a stream (HTTP/2) within this. */
  readonly headersTimeoutMs: number;
  /** An HTTP/1 request (head and body) must arrive completely within this. */
  readonly requestTimeoutMs: number;
  /** A connection with no request in flight (no open HTTP/2 stream) is closed after this. */
  readonly idleTimeoutMs: number;
  /** Open connections from one address; more are refused at once. */
  readonly maxConnectionsPerSource: number;
}

export interface MetricsSettings {
  /** A separate listener for /metrics (0 = any free port); undefined = none. */
  readonly port: number | undefined;
  readonly host: string;
  /** With a token, the main port answers /metrics to `Authorization: Bearer <token>`; without, it answers 404. */
  readonly token: string | undefined;
}

export interface ServerTlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA of client certificates; set = mutual TLS, mapping a certificate to a service principal. */
  readonly clientCaFile: string | undefined;
  /** optional: verify a certificate when one is sent; require: refuse handshakes without one. */
  readonly clientAuth: "optional" | "require";
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
    frontDoor:
      c.BERTH_PG_PORT === undefined
        ? undefined
        : Object.freeze({
            port: c.BERTH_PG_PORT,
            maxClients: c.BERTH_PG_MAX_CLIENTS,
            maxClientsPerSource: c.BERTH_PG_MAX_CLIENTS_PER_SOURCE,
            startupTimeoutMs: c.BERTH_HEADERS_TIMEOUT_MS,
          }),
    connectionLimits: Object.freeze({
      headersTimeoutMs: c.BERTH_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: c.BERTH_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: c.BERTH_IDLE_TIMEOUT_MS,
      maxConnectionsPerSource: c.BERTH_MAX_CONNECTIONS_PER_SOURCE,
    }),
    metrics: Object.freeze({
      port: c.BERTH_METRICS_PORT,
      host: c.BERTH_METRICS_HOST,
      token: c.BERTH_METRICS_TOKEN,
    }),
    tracing: Object.freeze({
      // The standard variable names a base URL, to which the traces path is added (OTLP spec).
      endpoint:
        c.BERTH_OTLP_ENDPOINT ??
        c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (c.OTEL_EXPORTER_OTLP_ENDPOINT && `${c.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`),
      serviceName: c.OTEL_SERVICE_NAME,
    }),
    rateLimits: c.BERTH_RATE_LIMITS,
    requireTls: c.BERTH_REQUIRE_TLS === "true",
    targets: Object.freeze({
      // Unset: any target not denied. Set: only what it lists (an empty list is refused above).
      allowed:
        c.BERTH_ALLOWED_TARGETS === undefined ? undefined : parseTargetList(c.BERTH_ALLOWED_TARGETS).rules,
      denied: parseTargetList(c.BERTH_DENIED_TARGETS).rules,
      defaultDenied: parseTargetList(DEFAULT_DENIED_TARGETS.join(",")).rules,
    }),
    google: Object.freeze({
      clientIds: list(c.BERTH_GOOGLE_CLIENT_IDS),
      jwksUrl: c.BERTH_GOOGLE_JWKS_URL,
      issuers: list(c.BERTH_GOOGLE_ISSUERS),
      hostedDomain: c.BERTH_GOOGLE_HOSTED_DOMAIN,
      allowedDomains: list(c.BERTH_GOOGLE_ALLOWED_DOMAINS).map((d) => d.toLowerCase()),
    }),
    retention: Object.freeze({
      checksDays: c.BERTH_RETENTION_CHECKS_DAYS,
      auditDays: c.BERTH_RETENTION_AUDIT_DAYS,
      inactiveConnectionDays: c.BERTH_RETENTION_INACTIVE_CONNECTION_DAYS,
    }),
    audit: Object.freeze({
      checkpointFile: c.BERTH_AUDIT_CHECKPOINT_FILE ?? join(c.BERTH_DATA_DIR, "audit-checkpoints.jsonl"),
      checkpointEvery: c.BERTH_AUDIT_CHECKPOINT_EVERY,
      checkpointIntervalMs: c.BERTH_AUDIT_CHECKPOINT_INTERVAL_MS,
      export: c.BERTH_AUDIT_EXPORT,
    }),
    kms: c.BERTH_KMS,
    vault: c.BERTH_VAULT_ADDR
      ? Object.freeze({
          address: c.BERTH_VAULT_ADDR,
          token: c.BERTH_VAULT_TOKEN,
          appRole:
            c.BERTH_VAULT_ROLE_ID && c.BERTH_VAULT_SECRET_ID
              ? {
                  roleId: c.BERTH_VAULT_ROLE_ID,
                  secretId: c.BERTH_VAULT_SECRET_ID,
                  mount: c.BERTH_VAULT_APPROLE_MOUNT,
                }
              : undefined,
          mount: c.BERTH_VAULT_TRANSIT_MOUNT,
          keyName: c.BERTH_VAULT_KEY,
          namespace: c.BERTH_VAULT_NAMESPACE,
          caCertFile: c.BERTH_VAULT_CACERT,
          timeoutMs: c.BERTH_VAULT_TIMEOUT_MS,
          retries: c.BERTH_VAULT_RETRIES,
        })
      : undefined,
    tls: c.BERTH_TLS_CERT_FILE
      ? Object.freeze({
          certFile: c.BERTH_TLS_CERT_FILE,
          keyFile: c.BERTH_TLS_KEY_FILE!,
          clientCaFile: c.BERTH_TLS_CLIENT_CA_FILE,
          clientAuth: c.BERTH_TLS_CLIENT_AUTH,
        })
      : undefined,
  });
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
