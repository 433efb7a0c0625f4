import type { AccessLevel } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import type { KeyProvider } from "../crypto/key-provider.js";
import type { Driver } from "../drivers/driver.js";
import type { EngineId } from "../engines/index.js";
import type { CheckResult } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { type ConnectionRepository, connectionRepository } from "../store/connection-repository.js";
import type { Db } from "../store/store.js";
import { createConnectionChecks } from "./connection-checks.js";
import { type CreateContext, createAll, createConnection, type NewWithGrants } from "./connection-create.js";
import { exportSpec } from "./connection-export.js";
import { createConnectionGate, staleVersion } from "./connection-gate.js";
import { type ConnectionPage, type ListContext, listConnections } from "./connection-list.js";
import { type UpdateContext, updateConnection } from "./connection-update.js";
import { createCredentialCipher } from "./credential-cipher.js";
import { type FoundForUse, findForUse } from "./find-for-use.js";
import { loadForPool, type PoolLoadContext } from "./load-for-pool.js";
import type { PageRequest } from "./paging.js";
import { type ConnectionView, view } from "./row-mapping.js";
import { createSettingsSeal } from "./sealed-settings.js";
import type { ConnectionSettings, ConnectionSpecInput, ConnectionStatusId, Credentials } from "./settings.js";
import type { TargetPolicy } from "./target-policy.js";
import { createTestedConfigs, type TestedConfigs } from "./tested-configs.js";

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
 * optimistic concurrency. This is the facade that wires them: the larger operations live in their
 * own modules (connection-create, connection-update, connection-list, connection-export,
 * find-for-use, load-for-pool), as do validation, encryption (credentials; every other setting,
 * sealed together), checks and paging. Transport-free: services and REST both call it with a
 * principal.
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

  // Each operation lives in its own module and takes only what it needs of the registry.
  const create: CreateContext = {
    db: deps.db,
    requireTls: deps.requireTls,
    clock,
    cipher,
    seal,
    assertNameFree,
  };
  const update: UpdateContext = {
    db: deps.db,
    repo,
    requireTls: deps.requireTls,
    clock,
    cipher,
    seal,
    checks,
    visibleRow,
    assertNameFree,
    onChanged: deps.onChanged,
  };
  const listing: ListContext = { repo, seal, policy: deps.policy };
  const poolLoad: PoolLoadContext = { db: deps.db, repo, requireTls: deps.requireTls, clock, cipher, seal };

  return {
    create(principal: Principal, input: ConnectionSpecInput): Promise<ConnectionView> {
      return createConnection(create, tested, principal, input);
    },

    /** For a bundle: the connection as a caller would send it, credentials included (admin level). */
    exportSpec(principal: Principal, id: string): Promise<ConnectionSpecInput> {
      return exportSpec(cipher, openedRow, principal, id);
    },

    /** Creates connections together (a bundle's import), each with its test result and grants: all or none. */
    createAll(principal: Principal, items: readonly NewWithGrants[]): Promise<ConnectionView[]> {
      return createAll(create, principal, items);
    },

    async get(principal: Principal, id: string): Promise<ConnectionView> {
      return view(await openedRow(principal, id));
    },

    /** The principal's level on a connection (undefined: it does not exist for them). */
    levelOf(principal: Principal, id: string) {
      return deps.policy.levelOf(principal, id);
    },

    list(principal: Principal, page: PageRequest): Promise<ConnectionPage> {
      return listConnections(listing, principal, page);
    },

    update(
      principal: Principal,
      id: string,
      input: ConnectionSpecInput,
      expectedVersion: number | undefined,
    ): Promise<ConnectionView> {
      return updateConnection(update, principal, id, input, expectedVersion);
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
      return loadForPool(poolLoad, id);
    },

    /**
     * A connection by its name (case-insensitive) or id, with the principal's level on it; undefined
     * when there is none or the principal may not see it (the two must look alike to a caller).
     */
    findForUse(principal: Principal, nameOrId: string): Promise<FoundForUse | undefined> {
      return findForUse(repo, deps.policy, principal, nameOrId);
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
