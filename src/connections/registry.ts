import { randomUUID } from "node:crypto";
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { type AccessLevel, atLeast } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import type { KeyProvider, SecretField } from "../crypto/key-provider.js";
import type { Driver } from "../drivers/driver.js";
import { ENGINES, type EngineId } from "../engines/index.js";
import {
  ConflictError,
  ConnectionCheckError,
  NotFoundError,
  PermissionDeniedError,
  TlsRequiredError,
  UnimplementedError,
  ValidationError,
} from "../errors/berth-error.js";
import { type CheckResult, CheckResultSchema, CheckStage } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { accessRepository } from "../store/access-repository.js";
import {
  type ConnectionRepository,
  connectionRepository,
  type ListCursor,
} from "../store/connection-repository.js";
import { isUniqueViolation } from "../store/errors.js";
import type { ConnectionRow, NewConnectionRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import {
  dnsStage,
  type NetworkState,
  runStages,
  StageFailure,
  type StageRun,
  tcpStage,
  testConnection,
} from "./checks.js";
import {
  type ConnectionSettings,
  type ConnectionSpecInput,
  type ConnectionStatusId,
  Credentials,
  type EngineOptions,
  type HostPort,
  NO_ENGINE_OPTIONS,
} from "./settings.js";
import { type CredentialInput, validateSpec } from "./validation.js";

/** A stored connection as the API may show it: the row without its ciphertexts. */
export type ConnectionView = Omit<
  ConnectionRow,
  "username_enc" | "password_enc" | "client_key_enc" | "name_key"
> & {
  has_client_key: boolean;
};

export interface ConnectionRegistryDeps {
  db: Db;
  keys: KeyProvider;
  policy: AccessPolicy;
  drivers: (engine: EngineId) => Driver | undefined;
  clock?: () => Date;
  /** Default bound of a test when the caller gives none. */
  testTimeoutMs: number;
  /** Told after a connection's configuration or credentials changed, or it was deleted. */
  onChanged?: (connectionId: string) => void;
  /** BERTH_REQUIRE_TLS: refuse configurations that allow plain text. */
  requireTls?: boolean;
}

export type CheckTarget = { id: string } | { spec: ConnectionSpecInput };

export interface ConnectionStatusView {
  connection: ConnectionView;
  lastTest: CheckResult | undefined;
}

const MAX_TEST_TIMEOUT_MS = 30_000;
const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The connection registry: validation, encryption of credentials, optimistic concurrency, staged
 * checks. Transport-free: services and REST both call it with a principal.
 */
export function createConnectionRegistry(deps: ConnectionRegistryDeps) {
  const repo: ConnectionRepository = connectionRepository(deps.db);
  const clock = deps.clock ?? (() => new Date());

  async function encrypt(id: string, field: SecretField, value: string): Promise<string> {
    return deps.keys.encrypt(value, { connectionId: id, field });
  }

  /**
   * The stored credentials, with `given` ones taking the place of stored ones (which are then not
   * decrypted at all: a credential being replaced may be one that no longer decrypts).
   */
  async function decryptCredentials(
    row: ConnectionRow,
    given: Partial<CredentialInput> = {},
  ): Promise<Credentials> {
    const bind = (field: SecretField) => ({ connectionId: row.id, field });
    const [username, password, clientKey] = await Promise.all([
      given.username ?? deps.keys.decrypt(row.username_enc, bind("username")),
      given.password ?? deps.keys.decrypt(row.password_enc, bind("password")),
      given.clientKey ??
        (row.client_key_enc ? deps.keys.decrypt(row.client_key_enc, bind("client_key")) : undefined),
    ]);
    return new Credentials(username, password, clientKey);
  }

  /**
   * Loads a row the principal may see, checking their level on it. Any other id answers not_found,
   * whether or not it exists, so ids cannot be probed.
   */
  async function visibleRow(
    principal: Principal,
    id: string,
    required: AccessLevel = "viewer",
    what = "see",
  ): Promise<ConnectionRow> {
    const row = UUID.test(id) ? await repo.findById(id) : undefined;
    const level = row ? await deps.policy.levelOf(principal, id) : undefined;
    if (!row || !level) throw new NotFoundError("connection", id);
    if (!atLeast(level, required)) {
      throw new PermissionDeniedError(
        `Your access to this connection is "${level}"; to ${what} it you need "${required}" or higher`,
      );
    }
    return row;
  }

  async function assertNameFree(nameKey: string, exceptId?: string): Promise<void> {
    const existing = await repo.findByNameKey(nameKey);
    if (existing && existing.id !== exceptId) {
      throw new ConflictError(`A connection with this name already exists`, {
        reason: "name_taken",
        field: "name",
      });
    }
  }

  function driverOrThrow(engine: EngineId): Driver {
    const driver = deps.drivers(engine);
    if (!driver) throw new UnimplementedError(`Connecting to ${ENGINES[engine].label}`);
    return driver;
  }

  function boundTimeout(timeoutMs: number | undefined): number {
    if (timeoutMs === undefined || timeoutMs === 0) return deps.testTimeoutMs;
    if (timeoutMs < 100 || timeoutMs > MAX_TEST_TIMEOUT_MS) {
      throw ValidationError.field("timeoutMs", `must be from 100 to ${MAX_TEST_TIMEOUT_MS} milliseconds`);
    }
    return timeoutMs;
  }

  async function recordAndApply(
    row: ConnectionRow,
    principal: Principal,
    kind: "test" | "validate",
    result: CheckResult,
  ) {
    const now = clock().toISOString();
    await repo.recordCheck({
      connectionId: row.id,
      kind,
      ok: result.ok,
      resultJson: toJsonString(CheckResultSchema, result),
      checkedAt: now,
      checkedById: principal.userId,
    });
    if (kind === "test") await repo.setStatus(row.id, statusAfterTest(result), now);
  }

  return {
    async create(principal: Principal, input: ConnectionSpecInput): Promise<ConnectionView> {
      requirePerson(principal, "register connections");
      const { settings, credentials } = validateSpec(input, { kind: "new" });
      enforceTls(deps.requireTls, settings);
      const nameKey = settings.name.toLowerCase();
      await assertNameFree(nameKey);
      const id = randomUUID();
      const now = clock().toISOString();
      const row: NewConnectionRow = {
        id,
        name_key: nameKey,
        ...settingsColumns(settings),
        username_enc: await encrypt(id, "username", credentials.username ?? ""),
        password_enc: await encrypt(id, "password", credentials.password ?? ""),
        client_key_enc: credentials.clientKey ? await encrypt(id, "client_key", credentials.clientKey) : null,
        created_by_id: principal.userId,
        created_by_google_email: principal.googleEmail,
        created_at: now,
        updated_at: now,
        last_tested_at: null,
        status: "untested",
        version: 1,
      };
      try {
        // The connection and its creator's ownership land together or not at all.
        await deps.db.transaction().execute(async (trx) => {
          await connectionRepository(trx).insert(row);
          await accessRepository(trx).upsert({
            connection_id: id,
            user_id: principal.userId,
            google_email: null,
            access_level: "owner",
            assigned_at: now,
            assigned_by_id: principal.userId,
          });
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new ConflictError("A connection with this name already exists", {
            reason: "name_taken",
            field: "name",
          });
        }
        throw err;
      }
      return view(row as ConnectionRow);
    },

    async get(principal: Principal, id: string): Promise<ConnectionView> {
      return view(await visibleRow(principal, id));
    },

    /** The principal's level on a connection (undefined: it does not exist for them). */
    levelOf(principal: Principal, id: string) {
      return deps.policy.levelOf(principal, id);
    },

    async list(
      principal: Principal,
      page: { pageSize?: number | undefined; pageToken?: string | undefined },
    ): Promise<{ connections: ConnectionView[]; nextPageToken: string }> {
      const size = page.pageSize || DEFAULT_PAGE_SIZE;
      if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
        throw ValidationError.field("pageSize", `must be from 1 to ${MAX_PAGE_SIZE}`);
      }
      const after = page.pageToken ? decodeCursor(page.pageToken) : undefined;
      const rows = await repo.list({
        limit: size + 1,
        after,
        visibleTo: deps.policy.listScope(principal),
      });
      const pageRows = rows.slice(0, size);
      const last = pageRows[pageRows.length - 1];
      return {
        connections: pageRows.map(view),
        nextPageToken:
          rows.length > size && last ? encodeCursor({ nameKey: last.name_key, id: last.id }) : "",
      };
    },

    async update(
      principal: Principal,
      id: string,
      input: ConnectionSpecInput,
      expectedVersion: number | undefined,
    ): Promise<ConnectionView> {
      const row = await visibleRow(principal, id, "editor", "change");
      if (expectedVersion !== undefined && expectedVersion !== row.version)
        throw staleVersion(row.version, expectedVersion);
      const { settings, credentials } = validateSpec(input, {
        kind: "update",
        hasStoredClientKey: row.client_key_enc !== null,
      });
      enforceTls(deps.requireTls, settings);
      const nameKey = settings.name.toLowerCase();
      await assertNameFree(nameKey, id);
      await checkNewCredentials(row, settings, credentials);
      const secrets = await encryptChanged(id, credentials);
      const columns = settingsColumns(settings);
      const reachabilityChanged =
        Object.keys(secrets).length > 0 ||
        (["type", "server", "port", "database", "ssl_mode"] as const).some((k) => columns[k] !== row[k]);
      const patch: Partial<NewConnectionRow> = {
        ...columns,
        name_key: nameKey,
        ...secrets,
        ...(credentials.clientKey === undefined && !settings.clientCertificate
          ? { client_key_enc: null }
          : {}),
        updated_at: clock().toISOString(),
        // A changed target has not been tested yet, whatever the old status said.
        ...(reachabilityChanged ? { status: "untested" } : {}),
      };
      let written: boolean;
      try {
        written = await repo.updateIfVersion(id, row.version, patch);
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConflictError("A connection with this name already exists", { reason: "name_taken" });
        throw err;
      }
      if (!written) {
        const current = await repo.findById(id);
        if (!current) throw new NotFoundError("connection", id);
        throw staleVersion(current.version, expectedVersion ?? row.version);
      }
      deps.onChanged?.(id);
      return view((await repo.findById(id))!);
    },

    async delete(principal: Principal, id: string, expectedVersion: number | undefined): Promise<void> {
      const row = await visibleRow(principal, id, "admin", "delete");
      if (expectedVersion !== undefined && expectedVersion !== row.version)
        throw staleVersion(row.version, expectedVersion);
      if (!(await repo.deleteIfVersion(id, row.version))) throw staleVersion(row.version + 1, row.version);
      deps.onChanged?.(id);
    },

    /** Test: signs in for real. Throws ConnectionCheckError (with every stage) when a stage fails. */
    async test(principal: Principal, target: CheckTarget, timeoutMs?: number): Promise<CheckResult> {
      const bound = boundTimeout(timeoutMs);
      if ("spec" in target) {
        // An unsaved configuration can point anywhere: probing the network is for people.
        requirePerson(principal, "test unsaved configurations");
        const { settings, credentials } = validateSpec(target.spec, { kind: "new" });
        enforceTls(deps.requireTls, settings);
        const driver = driverOrThrow(settings.type);
        const creds = new Credentials(
          credentials.username ?? "",
          credentials.password ?? "",
          credentials.clientKey,
        );
        const { result } = await testConnection(driver, settings, creds, bound);
        if (!result.ok) throw new ConnectionCheckError(result, settings.type);
        return result;
      }
      const row = await visibleRow(principal, target.id, "user", "test");
      const settings = settingsFromRow(row);
      // Connections saved before the policy was turned on are held to it too.
      enforceTls(deps.requireTls, settings);
      const driver = driverOrThrow(settings.type);
      const { result } = await testConnection(driver, settings, await decryptCredentials(row), bound);
      await recordAndApply(row, principal, "test", result);
      if (!result.ok) throw new ConnectionCheckError(result, settings.type);
      return result;
    },

    /** Validate: the rules, the credentials' decryptability, DNS and TCP — without signing in. */
    async validate(principal: Principal, target: CheckTarget, timeoutMs?: number): Promise<CheckResult> {
      const bound = boundTimeout(timeoutMs);
      const row = "id" in target ? await visibleRow(principal, target.id, "user", "validate") : undefined;
      if (!row) requirePerson(principal, "validate unsaved configurations");
      let settings: ConnectionSettings | undefined;
      const state: NetworkState = {};
      const stages: [CheckStage, StageRun][] = [
        [
          CheckStage.CONFIG,
          async () => {
            try {
              settings = row
                ? validateSpec(inputFromRow(row), {
                    kind: "update",
                    hasStoredClientKey: row.client_key_enc !== null,
                  }).settings
                : validateSpec("spec" in target ? target.spec : {}, { kind: "new" }).settings;
            } catch (err) {
              if (!(err instanceof ValidationError)) throw err;
              throw new StageFailure({ reason: "invalid_configuration", code: "", message: err.message });
            }
            return { details: { engine: settings.type, ssl_mode: settings.sslMode } };
          },
        ],
        [
          CheckStage.CREDENTIALS,
          async () => {
            if (!row) return { skipped: "An unsaved configuration has no stored credentials" };
            try {
              await decryptCredentials(row);
            } catch (err) {
              const field = (err as { details?: { field?: string } }).details?.field ?? "credential";
              throw new StageFailure({
                reason: "credential_integrity_failed",
                code: "",
                message: `The stored ${field} cannot be decrypted`,
              });
            }
            return { details: { key_provider: deps.keys.name } };
          },
        ],
        [CheckStage.DNS, (signal) => dnsStage(settings!.server, state)(signal)],
        [CheckStage.TCP, (signal) => tcpStage(settings!.port, state, false)(signal)],
      ];
      const spec = "spec" in target ? target.spec : undefined;
      const engine = row?.type ?? spec?.type ?? "unknown";
      const label = row ? `${row.server}:${row.port}` : `${spec?.server ?? ""}:${spec?.port ?? ""}`;
      const result = await runStages(label, stages, bound, (err) => ({
        reason: "unknown",
        code: "",
        message: (err as Error).message,
      }));
      if (row) await recordAndApply(row, principal, "validate", result);
      if (!result.ok) throw new ConnectionCheckError(result, engine);
      return result;
    },

    async status(principal: Principal, id: string): Promise<ConnectionStatusView> {
      const row = await visibleRow(principal, id);
      const json = await repo.lastCheck(id, "test");
      return { connection: view(row), lastTest: json ? fromJsonString(CheckResultSchema, json) : undefined };
    },

    /** For the pool manager: settings and decrypted credentials, no policy (callers authorize). */
    async loadForPool(
      id: string,
    ): Promise<{ row: ConnectionRow; settings: ConnectionSettings; credentials: Credentials }> {
      const row = await repo.findById(id);
      if (!row) throw new NotFoundError("connection", id);
      const settings = settingsFromRow(row);
      // No pool may open plain-text sessions under BERTH_REQUIRE_TLS, whenever the connection was saved.
      enforceTls(deps.requireTls, settings);
      const credentials = await decryptCredentials(row);
      // A pool opening is use: the inactive-connection retention counts from here.
      await deps.db
        .updateTable("connections")
        .set({ last_used_at: clock().toISOString() })
        .where("id", "=", id)
        .execute();
      return { row, settings, credentials };
    },

    /** Authorizes a principal for using a connection (tests, pools), answering not_found if unseen. */
    async authorizeUse(principal: Principal, id: string): Promise<ConnectionRow> {
      return visibleRow(principal, id, "user", "use");
    },

    /** A row the principal holds at least `required` on (for the access manager). */
    async authorize(
      principal: Principal,
      id: string,
      required: AccessLevel,
      what: string,
    ): Promise<ConnectionRow> {
      return visibleRow(principal, id, required, what);
    },
  };

  /**
   * New credentials are tried against the database before they replace working ones: a typo must
   * not take a connection down. A failure answers like a test (422, every stage) and writes nothing.
   * Engines without a driver in this build cannot be checked and are saved as given.
   */
  async function checkNewCredentials(
    row: ConnectionRow,
    settings: ConnectionSettings,
    c: CredentialInput,
  ): Promise<void> {
    if (c.username === undefined && c.password === undefined && c.clientKey === undefined) return;
    const driver = deps.drivers(settings.type);
    if (!driver) return;
    const merged = await decryptCredentials(row, c);
    const { result } = await testConnection(driver, settings, merged, deps.testTimeoutMs);
    if (!result.ok) throw new ConnectionCheckError(result, settings.type);
  }

  async function encryptChanged(id: string, c: CredentialInput): Promise<Partial<NewConnectionRow>> {
    const out: Partial<NewConnectionRow> = {};
    if (c.username !== undefined) out.username_enc = await encrypt(id, "username", c.username);
    if (c.password !== undefined) out.password_enc = await encrypt(id, "password", c.password);
    if (c.clientKey !== undefined) out.client_key_enc = await encrypt(id, "client_key", c.clientKey);
    return out;
  }
}

export type ConnectionRegistry = ReturnType<typeof createConnectionRegistry>;

/** Under BERTH_REQUIRE_TLS, a configuration that may fall back to plain text is refused. */
function enforceTls(requireTls: boolean | undefined, settings: ConnectionSettings): void {
  if (requireTls && (settings.sslMode === "disable" || settings.sslMode === "prefer")) {
    throw new TlsRequiredError(settings.sslMode);
  }
}

function requirePerson(principal: Principal, what: string): void {
  if (principal.kind !== "user")
    throw new PermissionDeniedError(`Service tokens may not ${what}`, "service_token");
}

function staleVersion(current: number, sent: number): ConflictError {
  return new ConflictError(
    `The connection was changed meanwhile: version ${current} is current, the request expected ${sent}; reload it and retry`,
    { reason: "version_mismatch", current_version: current, expected_version: sent },
  );
}

function statusAfterTest(result: CheckResult): ConnectionStatusId {
  if (result.ok) return "healthy";
  const failed = result.stages.find((s) => s.reason !== "");
  // Could not reach the server at all → unavailable; reached it but was refused → failed.
  return failed &&
    (failed.stage === CheckStage.DNS || failed.stage === CheckStage.TCP || failed.reason === "timeout")
    ? "unavailable"
    : "failed";
}

function settingsColumns(s: ConnectionSettings) {
  return {
    name: s.name,
    type: s.type,
    server: s.server,
    port: s.port,
    database: s.database,
    ssl_mode: s.sslMode,
    ca_certificate: s.caCertificate,
    client_certificate: s.clientCertificate,
    tls_server_name: s.tlsServerName,
    engine_options: JSON.stringify(s.engineOptions),
    max_pool_size: s.pool.maxPoolSize,
    min_pool_size: s.pool.minPoolSize,
    acquire_timeout_ms: s.pool.acquireTimeoutMs,
    idle_timeout_ms: s.pool.idleTimeoutMs,
    max_lifetime_ms: s.pool.maxLifetimeMs,
    replicas: JSON.stringify(s.replicas),
    description: s.description,
  };
}

export function settingsFromRow(row: ConnectionRow): ConnectionSettings {
  return {
    name: row.name,
    type: row.type as EngineId,
    server: row.server,
    port: row.port,
    database: row.database,
    sslMode: row.ssl_mode as ConnectionSettings["sslMode"],
    caCertificate: row.ca_certificate,
    clientCertificate: row.client_certificate,
    tlsServerName: row.tls_server_name,
    engineOptions: { ...NO_ENGINE_OPTIONS, ...(JSON.parse(row.engine_options) as Partial<EngineOptions>) },
    pool: {
      maxPoolSize: row.max_pool_size,
      minPoolSize: row.min_pool_size,
      acquireTimeoutMs: row.acquire_timeout_ms,
      idleTimeoutMs: row.idle_timeout_ms,
      maxLifetimeMs: row.max_lifetime_ms,
    },
    replicas: JSON.parse(row.replicas) as HostPort[],
    description: row.description,
  };
}

function inputFromRow(row: ConnectionRow): ConnectionSpecInput {
  const s = settingsFromRow(row);
  return {
    ...s,
    ...s.pool,
    replicas: s.replicas.map((r) => ({ ...r })),
  };
}

function view(row: ConnectionRow): ConnectionView {
  const { username_enc: _u, password_enc: _p, client_key_enc, name_key: _n, ...rest } = row;
  return { ...rest, has_client_key: client_key_enc !== null };
}

function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.nameKey, c.id]), "utf8").toString("base64url");
}

function decodeCursor(token: string): ListCursor {
  try {
    const [nameKey, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown[];
    if (typeof nameKey === "string" && typeof id === "string") return { nameKey, id };
  } catch {
    // fall through
  }
  throw ValidationError.field("pageToken", "is not a token from a previous page");
}
