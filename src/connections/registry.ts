import { requirePerson } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import type { KeyProvider } from "../crypto/key-provider.js";
import type { Driver } from "../drivers/driver.js";
import { warmPrivateKey } from "../drivers/ssh/private-key.js";
import type { EngineId } from "../engines/index.js";
import { ConflictError, NotFoundError } from "../errors/berth-error.js";
import type { CheckResult } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { type ConnectionRepository, connectionRepository } from "../store/connection-repository.js";
import { isUniqueViolation } from "../store/errors.js";
import { forgetRoleMemory } from "../store/role-memory-repository.js";
import type { ConnectionRow, NewConnectionRow, SealedConnectionRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { type ConnectionChecks, createConnectionChecks } from "./connection-checks.js";
import {
  type CreateContext,
  type ExtraGrant,
  insertConnections,
  type KnownCheck,
  type PreparedConnection,
  prepareConnection,
  preparedView,
  validateNew,
} from "./connection-create.js";
import { createConnectionGate, staleVersion } from "./connection-gate.js";
import { type CredentialCipher, createCredentialCipher, credentialsFromInput } from "./credential-cipher.js";
import { endpointChanges, requireCredentialsFor } from "./endpoint-change.js";
import { decodeCursor, type PageRequest, pageOf, pageSizeOf } from "./paging.js";
import { enforceTls } from "./require-tls.js";
import { type ConnectionView, inputFromRow, view } from "./row-mapping.js";
import { createSettingsSeal, isUnreadable, type SettingsSeal } from "./sealed-settings.js";
import type {
  ConnectionSettings,
  ConnectionSpecInput,
  ConnectionStatusId,
  Credentials,
  SshSecrets,
} from "./settings.js";
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
  /** Told of every test and validation's result (for the metrics). */
  observeCheck?: (kind: "test" | "validate", engine: string, result: CheckResult) => void;
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
    observe: deps.observeCheck,
  });

  const create: CreateContext = {
    db: deps.db,
    requireTls: deps.requireTls,
    clock,
    cipher,
    seal,
    assertNameFree,
  };

  const ctx: RegistryContext = {
    deps,
    create,
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

    /** For a bundle: the connection as a caller would send it, credentials included (admin level). */
    exportSpec(principal: Principal, id: string): Promise<ConnectionSpecInput> {
      return exportSpec(ctx, openedRow, principal, id);
    },

    /** Creates connections together (a bundle's import), each with its test result and grants: all or none. */
    createAll(principal: Principal, items: readonly NewWithGrants[]): Promise<ConnectionView[]> {
      return createAll(ctx, principal, items);
    },

    async get(principal: Principal, id: string): Promise<ConnectionView> {
      return view(await openedRow(principal, id));
    },

    /** The principal's level on a connection (undefined: it does not exist for them). */
    levelOf(principal: Principal, id: string) {
      return deps.policy.levelOf(principal, id);
    },

    list(principal: Principal, page: PageRequest): Promise<ConnectionPage> {
      return listConnections(ctx, principal, page);
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
    loadForPool(id: string): Promise<{ settings: ConnectionSettings; credentials: Credentials }> {
      return loadForPool(ctx, id);
    },

    /**
     * A connection by its name (case-insensitive) or id, with the principal's level on it; undefined
     * when there is none or the principal may not see it (the two must look alike to a caller).
     */
    findForUse(principal: Principal, nameOrId: string): Promise<FoundForUse | undefined> {
      return findForUse(ctx, principal, nameOrId);
    },

    /** The RFC's creation flow, "Update Status": what initializing the new connection's pool found. */
    async recordPoolStatus(id: string, status: ConnectionStatusId): Promise<void> {
      await repo.setStatus(id, status, undefined);
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
  create: CreateContext;
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
  await warmPrivateKey(input.ssh?.privateKey, input.ssh?.passphrase);
  const validated = validateNew({ requireTls: ctx.deps.requireTls }, input);
  // The caller tested exactly this configuration a moment ago: that result stands.
  const known = ctx.tested.recall(
    principal.userId,
    validated.settings,
    credentialsFromInput(validated.credentials),
  );
  const prepared = await prepareConnection(ctx.create, principal, validated, known);
  // The connection, its creator's ownership and the kept test land together or not at all.
  await insertConnections(ctx.deps.db, principal, [{ prepared }]);
  return preparedView(prepared);
}

export interface FoundForUse {
  id: string;
  name: string;
  type: string;
  level: AccessLevel;
}

async function findForUse(
  ctx: RegistryContext,
  principal: Principal,
  nameOrId: string,
): Promise<FoundForUse | undefined> {
  if (nameOrId === "" || nameOrId.length > 200) return undefined;
  const id = (await ctx.repo.idOfNameKey(nameOrId.toLowerCase())) ?? nameOrId;
  // Id, name and type are clear columns: nothing here is decrypted.
  const row = await ctx.repo.findById(id);
  if (!row) return undefined;
  const level = await ctx.deps.policy.levelOf(principal, row.id);
  return level ? { id: row.id, name: row.name, type: row.type, level } : undefined;
}

export interface ConnectionPage {
  connections: ConnectionView[];
  nextPageToken: string;
}

async function listConnections(
  ctx: RegistryContext,
  principal: Principal,
  page: PageRequest,
): Promise<ConnectionPage> {
  const size = pageSizeOf(page);
  const after = page.pageToken ? decodeCursor(page.pageToken) : undefined;
  const rows = await ctx.repo.list({
    limit: size + 1,
    after,
    visibleTo: ctx.deps.policy.listScope(principal),
  });
  const { shown, nextPageToken } = pageOf(rows, size);
  // One decryption per row, in parallel (a local keyring: microseconds; Vault: a round trip each).
  const opened = await Promise.all(shown.map((r) => ctx.seal.openListed(r)));
  return { connections: opened.map(view), nextPageToken };
}

async function loadForPool(
  ctx: RegistryContext,
  id: string,
): Promise<{ settings: ConnectionSettings; credentials: Credentials }> {
  const row = await ctx.repo.findById(id);
  if (!row) throw new NotFoundError("connection", id);
  // Opened once here; the pool keeps them for its life.
  const settings = await ctx.seal.openSettings(row);
  // No pool may open plain-text sessions under BERTH_REQUIRE_TLS, whenever the connection was saved.
  enforceTls(ctx.deps.requireTls, settings);
  const credentials = await ctx.cipher.decrypt(row);
  // A pool opening is use: the inactive-connection retention counts from here.
  await ctx.deps.db
    .updateTable("connections")
    .set({ last_used_at: ctx.clock().toISOString() })
    .where("id", "=", id)
    .execute();
  return { settings, credentials };
}

/** A connection to create with the test result it was checked with and grants besides its creator's. */
export interface NewWithGrants {
  input: ConnectionSpecInput;
  known: KnownCheck | undefined;
  grants: ExtraGrant[];
}

/** Reading the credentials back is what a bundle is for, so it takes the admin level (README, Bundles). */
async function exportSpec(
  ctx: RegistryContext,
  openedRow: (
    principal: Principal,
    id: string,
    required: AccessLevel,
    what: string,
  ) => Promise<ConnectionRow>,
  principal: Principal,
  id: string,
): Promise<ConnectionSpecInput> {
  // The level first: a connection the caller cannot see is not_found, whoever asks.
  const row = await openedRow(principal, id, "admin", "export");
  requirePerson(principal, "export connections");
  const c = await ctx.cipher.decrypt(row);
  const input = inputFromRow(row);
  return {
    ...input,
    username: c.username,
    password: c.password,
    ...(c.clientKey !== undefined ? { clientKey: c.clientKey } : {}),
    // The SSH bastion with its secrets, as a Create takes them.
    ...(input.ssh && c.ssh ? { ssh: { ...input.ssh, ...definedOnly(c.ssh) } } : {}),
  };
}

function definedOnly(s: SshSecrets): Partial<SshSecrets> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
}

/** The specs were validated and tested by the caller; rules and names are checked again here. */
async function createAll(
  ctx: RegistryContext,
  principal: Principal,
  items: readonly NewWithGrants[],
): Promise<ConnectionView[]> {
  const prepared: { prepared: PreparedConnection; grants: ExtraGrant[] }[] = [];
  for (const item of items) {
    await warmPrivateKey(item.input.ssh?.privateKey, item.input.ssh?.passphrase);
    const validated = validateNew(ctx.create, item.input);
    prepared.push({
      prepared: await prepareConnection(ctx.create, principal, validated, item.known),
      grants: item.grants,
    });
  }
  await insertConnections(ctx.deps.db, principal, prepared);
  return prepared.map((p) => preparedView(p.prepared));
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
  await warmPrivateKey(input.ssh?.privateKey, input.ssh?.passphrase);
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
  // Other hosts now: what was learned of the old ones' roles (highest timeline, writable-since)
  // would fence the new ones, so it goes before the pools are rebuilt.
  if (changed.length > 0) await forgetRoleMemory(ctx.deps.db, id);
  ctx.deps.onChanged?.(id);
  return view(await ctx.seal.open((await ctx.repo.findById(id))!));
}
