import { randomUUID } from "node:crypto";
import { requirePerson } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import type { KeyProvider } from "../crypto/key-provider.js";
import type { Driver } from "../drivers/driver.js";
import type { EngineId } from "../engines/index.js";
import { ConflictError, NotFoundError } from "../errors/berth-error.js";
import type { CheckResult } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { accessRepository } from "../store/access-repository.js";
import { type ConnectionRepository, connectionRepository } from "../store/connection-repository.js";
import { isUniqueViolation } from "../store/errors.js";
import type { ConnectionRow, NewConnectionRow, SealedConnectionRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { type ConnectionChecks, createConnectionChecks, statusAfterCheck } from "./connection-checks.js";
import { createConnectionGate, nameTaken, staleVersion } from "./connection-gate.js";
import { type CredentialCipher, createCredentialCipher, credentialsFromInput } from "./credential-cipher.js";
import { endpointChanges, requireCredentialsFor } from "./endpoint-change.js";
import { decodeCursor, type PageRequest, pageOf, pageSizeOf } from "./paging.js";
import { enforceTls } from "./require-tls.js";
import { type ConnectionView, settingsColumns, view } from "./row-mapping.js";
import { createSettingsSeal, isUnreadable, type SettingsSeal } from "./sealed-settings.js";
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
 * optimistic concurrency. Validation, encryption (credentials; every other setting, sealed
 * together), checks and paging live beside it. Transport-free: services and REST both call it with
 * a principal.
 */
export function createConnectionRegistry(deps: ConnectionRegistryDeps) {
  const repo: ConnectionRepository = connectionRepository(deps.db);
  const clock = deps.clock ?? (() => new Date());
  const cipher = createCredentialCipher(deps.keys);
  const seal = createSettingsSeal(deps.keys);
  const tested = deps.testedConfigs ?? createTestedConfigs({ clock });

  const { visibleRow, assertNameFree } = createConnectionGate(repo, deps.policy);
  /** A visible row with its settings opened, for what needs them (not for authorizing alone). */
  const openedRow = async (principal: Principal, id: string, required?: AccessLevel, what?: string) =>
    seal.open(await visibleRow(principal, id, required, what));

  const checks = createConnectionChecks({
    repo,
    cipher,
    seal,
    drivers: deps.drivers,
    tested,
    authorize: openedRow,
    clock,
    testTimeoutMs: deps.testTimeoutMs,
    requireTls: deps.requireTls,
    targets: deps.targets,
  });

  const ctx: RegistryContext = {
    deps,
    repo,
    clock,
    cipher,
    seal,
    tested,
    checks,
    visibleRow,
    assertNameFree,
  };

  return {
    create(principal: Principal, input: ConnectionSpecInput): Promise<ConnectionView> {
      return createConnection(ctx, principal, input);
    },

    async get(principal: Principal, id: string): Promise<ConnectionView> {
      return view(await openedRow(principal, id));
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
      // One decryption per row, in parallel (a local keyring: microseconds; Vault: a round trip each).
      const opened = await Promise.all(shown.map((r) => seal.openListed(r)));
      return { connections: opened.map(view), nextPageToken };
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
      const row = await openedRow(principal, id);
      const lastTest = await seal.openCheck(id, await repo.lastCheck(id, "test"));
      return { connection: view(row), lastTest };
    },

    /** For the pool manager: settings and decrypted credentials, no policy (callers authorize). */
    async loadForPool(id: string): Promise<{ settings: ConnectionSettings; credentials: Credentials }> {
      const row = await repo.findById(id);
      if (!row) throw new NotFoundError("connection", id);
      // Opened once here; the pool keeps them for its life.
      const settings = await seal.openSettings(row);
      // No pool may open plain-text sessions under BERTH_REQUIRE_TLS, whenever the connection was saved.
      enforceTls(deps.requireTls, settings);
      const credentials = await cipher.decrypt(row);
      // A pool opening is use: the inactive-connection retention counts from here.
      await deps.db
        .updateTable("connections")
        .set({ last_used_at: clock().toISOString() })
        .where("id", "=", id)
        .execute();
      return { settings, credentials };
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
      const id = (await repo.idOfNameKey(nameOrId.toLowerCase())) ?? nameOrId;
      // Id, name and type are clear columns: nothing here is decrypted.
      const row = await repo.findById(id);
      if (!row) return undefined;
      const level = await deps.policy.levelOf(principal, row.id);
      return level ? { id: row.id, name: row.name, type: row.type, level } : undefined;
    },

    /** Authorizes a principal for using a connection (tests, pools), answering not_found if unseen. */
    async authorizeUse(principal: Principal, id: string): Promise<void> {
      await visibleRow(principal, id, "user", "use");
    },

    /** Whether the principal holds at least `required` on a connection (for the access manager). */
    async authorize(principal: Principal, id: string, required: AccessLevel, what: string): Promise<void> {
      await visibleRow(principal, id, required, what);
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
  seal: SettingsSeal;
  tested: TestedConfigs;
  checks: ConnectionChecks;
  visibleRow: (
    principal: Principal,
    id: string,
    required?: AccessLevel,
    what?: string,
  ) => Promise<SealedConnectionRow>;
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
  // Encrypted before the transaction: a key provider's round trip must not hold the store's lock.
  const knownEnc = known ? await ctx.seal.sealCheck(id, known.result) : undefined;
  const row: NewConnectionRow = {
    id,
    name_key: nameKey,
    name: settings.name,
    type: settings.type,
    ...(await ctx.seal.seal(id, settings)),
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
      if (known && knownEnc) {
        await connectionRepository(trx).recordCheck({
          connectionId: id,
          kind: "test",
          ok: known.result.ok,
          resultEnc: knownEnc,
          checkedAt: known.testedAt,
          checkedById: principal.userId,
        });
      }
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken();
    throw err;
  }
  const { settings_enc: _sealed, ...clear } = row;
  return view({ ...clear, ...settingsColumns(settings) } as ConnectionRow);
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
  // Stored settings that no longer open (altered, retired key) can be replaced, as a move: with
  // the credentials. A key provider that does not answer fails the update instead.
  const stored = await ctx.seal.openSettings(row).catch((err: unknown) => {
    if (isUnreadable(err)) return undefined;
    throw err;
  });
  const { settings, credentials } = validateSpec(input, {
    kind: "update",
    hasStoredClientKey: row.client_key_enc !== null,
    storedSsh: row.ssh_secrets_enc !== null ? stored?.ssh?.stored : undefined,
  });
  // Before anything is tried: a test of the new endpoint would already send the stored password there.
  const changed = stored ? endpointChanges(stored, settings) : ["settings"];
  requireCredentialsFor(
    changed,
    settings,
    credentials,
    row.client_key_enc !== null,
    row.ssh_secrets_enc !== null,
  );
  enforceTls(ctx.deps.requireTls, settings);
  const nameKey = settings.name.toLowerCase();
  await ctx.assertNameFree(nameKey, id);
  const secrets = await ctx.cipher.encryptChanged(id, credentials);
  // New credentials and a new endpoint or TLS setup are alike: tried first, saved with the result.
  const retest = Object.keys(secrets).length > 0 || !stored || !sameTestedFields(stored, settings);
  const result = retest ? await ctx.checks.testBeforeSave(row, settings, credentials) : undefined;
  const now = ctx.clock().toISOString();
  const patch: Partial<NewConnectionRow> = {
    name: settings.name,
    type: settings.type,
    ...(await ctx.seal.seal(id, settings)),
    name_key: nameKey,
    ...secrets,
    ...(credentials.clientKey === undefined && !settings.clientCertificate ? { client_key_enc: null } : {}),
    // No tunnel any more: its secrets go with it.
    ...(settings.ssh ? {} : { ssh_secrets_enc: null }),
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
  return view(await ctx.seal.open((await ctx.repo.findById(id))!));
}
