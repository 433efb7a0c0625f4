import { randomUUID } from "node:crypto";
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { requirePerson } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import type { KeyProvider } from "../crypto/key-provider.js";
import type { Driver } from "../drivers/driver.js";
import type { EngineId } from "../engines/index.js";
import { ConflictError, NotFoundError } from "../errors/berth-error.js";
import { type CheckResult, CheckResultSchema } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { accessRepository } from "../store/access-repository.js";
import { type ConnectionRepository, connectionRepository } from "../store/connection-repository.js";
import { isUniqueViolation } from "../store/errors.js";
import type { ConnectionRow, NewConnectionRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { type ConnectionChecks, createConnectionChecks, statusAfterCheck } from "./connection-checks.js";
import { createConnectionGate, nameTaken, staleVersion } from "./connection-gate.js";
import { type CredentialCipher, createCredentialCipher, credentialsFromInput } from "./credential-cipher.js";
import { requireCredentialsForEndpointChange } from "./endpoint-change.js";
import { decodeCursor, type PageRequest, pageOf, pageSizeOf } from "./paging.js";
import { enforceTls } from "./require-tls.js";
import { type ConnectionView, settingsColumns, settingsFromRow, view } from "./row-mapping.js";
import type { ConnectionSettings, ConnectionSpecInput, Credentials } from "./settings.js";
import type { TargetPolicy } from "./target-policy.js";
import { createTestedConfigs, sameTestedFields, type TestedConfigs } from "./tested-configs.js";
import { validateSpec } from "./validation.js";

export type { CheckTarget } from "./connection-checks.js";
export type { ConnectionView } from "./row-mapping.js";

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
  /** Where tests and validations may connect (BERTH_ALLOWED_TARGETS etc.); default: the default denials. */
  targets?: TargetPolicy;
  /** Results of tests of unsaved configurations, for a Create of the same one (default: in memory). */
  testedConfigs?: TestedConfigs;
}

export interface ConnectionStatusView {
  connection: ConnectionView;
  lastTest: CheckResult | undefined;
}

/**
 * The connection registry: create, read, list, update, delete, status and pool loading, with
 * optimistic concurrency. Validation, credential encryption, checks and paging live beside it.
 * Transport-free: services and REST both call it with a principal.
 */
export function createConnectionRegistry(deps: ConnectionRegistryDeps) {
  const repo: ConnectionRepository = connectionRepository(deps.db);
  const clock = deps.clock ?? (() => new Date());
  const cipher = createCredentialCipher(deps.keys);
  const tested = deps.testedConfigs ?? createTestedConfigs({ clock });

  const { visibleRow, assertNameFree } = createConnectionGate(repo, deps.policy);

  const checks = createConnectionChecks({
    repo,
    cipher,
    drivers: deps.drivers,
    tested,
    authorize: visibleRow,
    clock,
    testTimeoutMs: deps.testTimeoutMs,
    requireTls: deps.requireTls,
    targets: deps.targets,
  });

  const ctx: RegistryContext = { deps, repo, clock, cipher, tested, checks, visibleRow, assertNameFree };

  return {
    create(principal: Principal, input: ConnectionSpecInput): Promise<ConnectionView> {
      return createConnection(ctx, principal, input);
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
      page: PageRequest,
    ): Promise<{ connections: ConnectionView[]; nextPageToken: string }> {
      const size = pageSizeOf(page);
      const after = page.pageToken ? decodeCursor(page.pageToken) : undefined;
      const rows = await repo.list({ limit: size + 1, after, visibleTo: deps.policy.listScope(principal) });
      const { shown, nextPageToken } = pageOf(rows, size);
      return { connections: shown.map(view), nextPageToken };
    },

    update(
      principal: Principal,
      id: string,
      input: ConnectionSpecInput,
      expectedVersion: number | undefined,
    ): Promise<ConnectionView> {
      return updateConnection(ctx, principal, id, input, expectedVersion);
    },

    async delete(principal: Principal, id: string, expectedVersion: number | undefined): Promise<void> {
      const row = await visibleRow(principal, id, "admin", "delete");
      if (expectedVersion !== undefined && expectedVersion !== row.version)
        throw staleVersion(row.version, expectedVersion);
      if (!(await repo.deleteIfVersion(id, row.version))) throw staleVersion(row.version + 1, row.version);
      deps.onChanged?.(id);
    },

    /** Test signs in for real; validate checks all but that. Both throw ConnectionCheckError on a failure. */
    test: checks.test,
    validate: checks.validate,

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
      const credentials = await cipher.decrypt(row);
      // A pool opening is use: the inactive-connection retention counts from here.
      await deps.db
        .updateTable("connections")
        .set({ last_used_at: clock().toISOString() })
        .where("id", "=", id)
        .execute();
      return { row, settings, credentials };
    },

    /**
     * A connection by its name (case-insensitive) or id, with the principal's level on it; undefined
     * when there is none or the principal may not see it (the two must look alike to a caller).
     */
    async findForUse(
      principal: Principal,
      nameOrId: string,
    ): Promise<{ id: string; name: string; type: string; level: AccessLevel } | undefined> {
      if (nameOrId === "" || nameOrId.length > 200) return undefined;
      const row = (await repo.findByNameKey(nameOrId.toLowerCase())) ?? (await repo.findById(nameOrId));
      if (!row) return undefined;
      const level = await deps.policy.levelOf(principal, row.id);
      return level ? { id: row.id, name: row.name, type: row.type, level } : undefined;
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
}

export type ConnectionRegistry = ReturnType<typeof createConnectionRegistry>;

/** What create and update share with the registry (they are written out below it). */
interface RegistryContext {
  deps: ConnectionRegistryDeps;
  repo: ConnectionRepository;
  clock: () => Date;
  cipher: CredentialCipher;
  tested: TestedConfigs;
  checks: ConnectionChecks;
  visibleRow: (
    principal: Principal,
    id: string,
    required?: AccessLevel,
    what?: string,
  ) => Promise<ConnectionRow>;
  assertNameFree: (nameKey: string, exceptId?: string) => Promise<void>;
}

async function createConnection(
  ctx: RegistryContext,
  principal: Principal,
  input: ConnectionSpecInput,
): Promise<ConnectionView> {
  requirePerson(principal, "register connections");
  const { settings, credentials } = validateSpec(input, { kind: "new" });
  enforceTls(ctx.deps.requireTls, settings);
  const nameKey = settings.name.toLowerCase();
  await ctx.assertNameFree(nameKey);
  const id = randomUUID();
  const now = ctx.clock().toISOString();
  // The caller tested exactly this configuration a moment ago: that result stands.
  const known = ctx.tested.recall(principal.userId, settings, credentialsFromInput(credentials));
  const row: NewConnectionRow = {
    id,
    name_key: nameKey,
    ...settingsColumns(settings),
    ...(await ctx.cipher.encryptAll(id, credentials)),
    created_by_id: principal.userId,
    created_by_google_email: principal.googleEmail,
    created_at: now,
    updated_at: now,
    last_tested_at: known?.testedAt ?? null,
    status: known ? statusAfterCheck(known.result) : "untested",
    version: 1,
  };
  try {
    // The connection, its creator's ownership and the kept test land together or not at all.
    await ctx.deps.db.transaction().execute(async (trx) => {
      await connectionRepository(trx).insert(row);
      await accessRepository(trx).upsert({
        connection_id: id,
        user_id: principal.userId,
        google_email: null,
        access_level: "owner",
        assigned_at: now,
        assigned_by_id: principal.userId,
      });
      if (known) {
        await connectionRepository(trx).recordCheck({
          connectionId: id,
          kind: "test",
          ok: known.result.ok,
          resultJson: toJsonString(CheckResultSchema, known.result),
          checkedAt: known.testedAt,
          checkedById: principal.userId,
        });
      }
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken();
    throw err;
  }
  return view(row as ConnectionRow);
}

async function updateConnection(
  ctx: RegistryContext,
  principal: Principal,
  id: string,
  input: ConnectionSpecInput,
  expectedVersion: number | undefined,
): Promise<ConnectionView> {
  const row = await ctx.visibleRow(principal, id, "editor", "change");
  if (expectedVersion !== undefined && expectedVersion !== row.version)
    throw staleVersion(row.version, expectedVersion);
  const { settings, credentials } = validateSpec(input, {
    kind: "update",
    hasStoredClientKey: row.client_key_enc !== null,
  });
  // Before anything is tried: a test of the new endpoint would already send the stored password there.
  const stored = settingsFromRow(row);
  requireCredentialsForEndpointChange(stored, settings, credentials, row.client_key_enc !== null);
  enforceTls(ctx.deps.requireTls, settings);
  const nameKey = settings.name.toLowerCase();
  await ctx.assertNameFree(nameKey, id);
  const secrets = await ctx.cipher.encryptChanged(id, credentials);
  // New credentials and a new endpoint or TLS setup are alike: tried first, saved with the result.
  const retest = Object.keys(secrets).length > 0 || !sameTestedFields(stored, settings);
  const result = retest ? await ctx.checks.testBeforeSave(row, settings, credentials) : undefined;
  const now = ctx.clock().toISOString();
  const patch: Partial<NewConnectionRow> = {
    ...settingsColumns(settings),
    name_key: nameKey,
    ...secrets,
    ...(credentials.clientKey === undefined && !settings.clientCertificate ? { client_key_enc: null } : {}),
    updated_at: now,
    // A changed target that could not be tested (no driver here) is untested, whatever it was.
    ...(retest ? (result ? { status: "healthy", last_tested_at: now } : { status: "untested" }) : {}),
  };
  let written: boolean;
  try {
    written = await ctx.repo.updateIfVersion(id, row.version, patch);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError("A connection with this name already exists", { reason: "name_taken" });
    throw err;
  }
  if (!written) {
    const current = await ctx.repo.findById(id);
    if (!current) throw new NotFoundError("connection", id);
    throw staleVersion(current.version, expectedVersion ?? row.version);
  }
  if (result) await ctx.checks.record(id, principal, "test", result);
  ctx.deps.onChanged?.(id);
  return view((await ctx.repo.findById(id))!);
}
