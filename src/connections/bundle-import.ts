import { requirePerson } from "../access/guards.js";
import { BerthError, ConflictError, ConnectionCheckError } from "../errors/berth-error.js";
import type { CheckResult } from "../gen/berth/v1/types_pb.js";
import type { Principal } from "../identity/principal.js";
import { connectionRepository } from "../store/connection-repository.js";
import type { Db } from "../store/store.js";
import type { BundleDeps } from "./bundle-export.js";
import { openBundle } from "./bundle-format.js";
import { type BundledConnection, type NamedGrant, parsePayload } from "./bundle-payload.js";
import type { ExtraGrant } from "./connection-create.js";
import { validateNew } from "./connection-create.js";

export type ImportOutcome = "created" | "would_create" | "name_taken" | "invalid" | "test_failed";

export interface ImportedGrant extends NamedGrant {
  applied: boolean;
  /** "unknown_principal": no user of that name here; the grant is skipped (the import goes on). */
  skippedReason: string;
}

export interface ImportedConnectionReport {
  name: string;
  type: string;
  outcome: ImportOutcome;
  message: string;
  id: string;
  test: CheckResult | undefined;
  grants: ImportedGrant[];
}

export interface ImportReport {
  applied: boolean;
  dryRun: boolean;
  ok: boolean;
  exportedAt: string;
  exportedBy: string;
  connections: ImportedConnectionReport[];
}

export interface ImportRequest {
  bundle: Buffer;
  passphrase: string;
  dryRun: boolean;
  timeoutMs?: number;
  requireTls?: boolean | undefined;
}

/** How many connections are tested at once. */
const TEST_CONCURRENCY = 4;

/**
 * Imports a bundle: opens it, checks each connection (its rules, its name here, the staged test)
 * before anything is written, and then creates them all in one transaction — or, if any check
 * failed, none, answering conflict with every problem by name. A dry run stops after the checks.
 * Grants to a username this Berth does not have are skipped and reported (README, Bundles).
 */
export async function importBundle(
  deps: BundleDeps,
  principal: Principal,
  req: ImportRequest,
): Promise<ImportReport> {
  // Before the key derivation's cost: service tokens may not create connections at all.
  requirePerson(principal, "import connections");
  const payload = parsePayload(await openBundle(req.bundle, req.passphrase));
  const userIds = await userIdsByName(deps.db, payload.connections);
  const reports = await checkAll(deps, payload.connections, req, userIds);
  const creates = req.dryRun ? 0 : payload.connections.length;
  const refund = await checkAndTest(deps, principal, payload.connections, req, reports, creates);
  const ok = reports.every((r) => r.outcome === "would_create");
  const report: ImportReport = {
    applied: false,
    dryRun: req.dryRun,
    ok,
    exportedAt: payload.exportedAt,
    exportedBy: payload.exportedBy,
    connections: reports,
  };
  if (req.dryRun) return report;
  if (!ok) {
    // Nothing created: the creations paid for are given back (the tests ran, and stay paid).
    await refund.creates();
    throw importRefused(reports);
  }
  const created = await deps.registry
    .createAll(
      principal,
      payload.connections.map((c, i) => ({
        input: c.spec,
        known: reports[i]!.test
          ? { result: reports[i]!.test!, testedAt: new Date().toISOString() }
          : undefined,
        grants: extraGrants(reports[i]!.grants, userIds),
      })),
    )
    .catch(async (err: unknown) => {
      await refund.creates();
      throw err;
    });
  created.forEach((c, i) => {
    reports[i]!.outcome = "created";
    reports[i]!.id = c.id;
  });
  return { ...report, applied: true };
}

/** The checks that cost nothing: each connection's rules and its name, here and in the bundle. */
async function checkAll(
  deps: BundleDeps,
  connections: readonly BundledConnection[],
  req: ImportRequest,
  userIds: Map<string, string>,
): Promise<ImportedConnectionReport[]> {
  const repo = connectionRepository(deps.db);
  const seen = new Set<string>();
  const reports = connections.map((c) => initialReport(c, userIds));
  for (const [i, c] of connections.entries()) {
    const r = reports[i]!;
    try {
      validateNew({ requireTls: req.requireTls }, c.spec);
    } catch (err) {
      r.outcome = "invalid";
      r.message = err instanceof BerthError ? err.message : "The configuration is not valid";
      continue;
    }
    const key = r.name.toLowerCase();
    if (seen.has(key)) {
      r.outcome = "name_taken";
      r.message = `The bundle holds two connections named "${r.name}"`;
    } else if ((await repo.idOfNameKey(key)) !== undefined) {
      r.outcome = "name_taken";
      r.message = `A connection named "${r.name}" exists here: rename or delete it, or leave it out of the bundle`;
    }
    seen.add(key);
  }
  return reports;
}

/**
 * Pays for the import, then runs the staged tests. Every test is charged to the caller's test budget
 * and (for a real import) every connection to the creation budget, before anything is tested: a
 * short budget refuses the import whole (RESOURCE_EXHAUSTED, with how many points it needs).
 * Answers a refund of the creations, for an import that then creates nothing.
 */
async function checkAndTest(
  deps: BundleDeps,
  principal: Principal,
  connections: readonly BundledConnection[],
  req: ImportRequest,
  reports: ImportedConnectionReport[],
  creates: number,
): Promise<{ creates: () => Promise<void> }> {
  const toTest = reports.flatMap((r, i) => (r.outcome === "would_create" ? [i] : []));
  // Creation first and alone, so that its refund gives back creations only.
  const refundCreates =
    (await deps.budget?.charge(principal.userId, { connection_create: creates })) ?? (async () => {});
  try {
    await deps.budget?.charge(principal.userId, { connection_test: toTest.length });
  } catch (err) {
    await refundCreates();
    throw err;
  }
  await testAll(deps, principal, connections, req, reports, toTest);
  return { creates: refundCreates };
}

async function testAll(
  deps: BundleDeps,
  principal: Principal,
  connections: readonly BundledConnection[],
  req: ImportRequest,
  reports: ImportedConnectionReport[],
  toTest: readonly number[],
): Promise<void> {
  for (let at = 0; at < toTest.length; at += TEST_CONCURRENCY) {
    await Promise.all(
      toTest.slice(at, at + TEST_CONCURRENCY).map(async (i) => {
        const r = reports[i]!;
        try {
          r.test = await deps.registry.test(principal, { spec: connections[i]!.spec }, req.timeoutMs);
        } catch (err) {
          r.outcome = "test_failed";
          r.message = err instanceof BerthError ? err.message : "The test could not run";
          if (err instanceof ConnectionCheckError) r.test = err.result;
        }
      }),
    );
  }
}

function initialReport(c: BundledConnection, userIds: Map<string, string>): ImportedConnectionReport {
  return {
    name: c.spec.name ?? "",
    type: c.spec.type ?? "",
    outcome: "would_create",
    message: "",
    id: "",
    test: undefined,
    grants: c.grants.map((g) => {
      const known = g.kind === "google" || userIds.has(g.principal);
      return { ...g, applied: known, skippedReason: known ? "" : "unknown_principal" };
    }),
  };
}

/** The ids of the users the bundle's grants name, by username. */
async function userIdsByName(
  db: Db,
  connections: readonly BundledConnection[],
): Promise<Map<string, string>> {
  const names = [
    ...new Set(connections.flatMap((c) => c.grants.filter((g) => g.kind === "user").map((g) => g.principal))),
  ];
  const found = new Map<string, string>();
  // In slices: a statement's parameters are bounded (SQLite: 32766).
  for (let at = 0; at < names.length; at += 500) {
    const rows = await db
      .selectFrom("users")
      .select(["id", "username"])
      .where("username", "in", names.slice(at, at + 500))
      .execute();
    for (const u of rows) found.set(u.username, u.id);
  }
  return found;
}

function extraGrants(grants: readonly ImportedGrant[], userIds: Map<string, string>): ExtraGrant[] {
  return grants
    .filter((g) => g.applied)
    .map((g) =>
      g.kind === "user"
        ? { userId: userIds.get(g.principal)!, level: g.level }
        : { googleEmail: g.principal, level: g.level },
    );
}

/** Nothing was written: every connection that could not be created, by name, with why. */
function importRefused(reports: readonly ImportedConnectionReport[]): ConflictError {
  const problems = reports.filter((r) => r.outcome !== "would_create");
  const byOutcome = (o: ImportOutcome) => problems.filter((r) => r.outcome === o).map((r) => r.name);
  const summary = problems
    .slice(0, 5)
    .map((r) => `${r.name || "(unnamed)"}: ${r.outcome}`)
    .join("; ");
  return new ConflictError(
    `Nothing was imported: ${problems.length} of ${reports.length} connections cannot be created (${summary}${problems.length > 5 ? "; …" : ""})`,
    {
      reason: "bundle_not_importable",
      name_taken: byOutcome("name_taken"),
      invalid: byOutcome("invalid"),
      test_failed: byOutcome("test_failed"),
      problems: problems.map((r) => ({ name: r.name, outcome: r.outcome, message: r.message })),
    },
  );
}
