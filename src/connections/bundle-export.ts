import { atLeast, isAccessLevel } from "../access/levels.js";
import { ValidationError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import { accessRepository } from "../store/access-repository.js";
import type { Db } from "../store/store.js";
import { checkPassphrase, sealBundle } from "./bundle-format.js";
import {
  type BundledConnection,
  type BundlePayload,
  MAX_BUNDLE_CONNECTIONS,
  type NamedGrant,
} from "./bundle-payload.js";
import type { ConnectionRegistry } from "./registry.js";

export interface BundleDeps {
  db: Db;
  registry: ConnectionRegistry;
  clock?: () => Date;
  /**
   * The caller's rate-limit budgets (unset when BERTH_RATE_LIMITS=off): an import pays one test per
   * connection it tests and one creation per connection it creates (rate-limits.ts, RateBudget).
   */
  budget?: ImportBudget | undefined;
}

/** RateBudget's shape, as the import needs it (limits/ implements it; core.ts wires it). */
export interface ImportBudget {
  charge(
    principalId: string,
    wants: { connection_test?: number; connection_create?: number },
  ): Promise<() => Promise<void>>;
}

export interface ExportedBundle {
  bundle: Buffer;
  /** The ids exported, in the bundle's order (for the audit). */
  connectionIds: string[];
  grants: number;
}

/**
 * Exports connections, with their credentials and their grants by principal name, into a bundle
 * sealed with the passphrase. The caller, a person (registry.exportSpec), needs the admin level on
 * every connection named; or
 * asks for every connection they administer (and there must be one).
 */
export async function exportBundle(
  deps: BundleDeps,
  principal: Principal,
  which: { connectionIds: readonly string[]; allAdministered: boolean },
  passphrase: string,
): Promise<ExportedBundle> {
  // Before any work: a short passphrase is refused whatever else is right.
  checkPassphrase(passphrase);
  if (which.allAdministered === which.connectionIds.length > 0)
    throw ValidationError.field(
      "connectionIds",
      which.allAdministered
        ? "give either connectionIds or all, not both"
        : "name at least one connection (or ask for all you administer with all: true)",
    );
  const ids = which.allAdministered ? await administered(deps, principal) : unique(which.connectionIds);
  if (ids.length === 0)
    throw ValidationError.field("connectionIds", "you administer no connection: there is nothing to export");
  if (ids.length > MAX_BUNDLE_CONNECTIONS)
    throw ValidationError.field("connectionIds", `at most ${MAX_BUNDLE_CONNECTIONS} connections per bundle`);
  const connections: BundledConnection[] = [];
  for (const id of ids) {
    // not_found for an id the caller cannot see; permission_denied below admin.
    const spec = await deps.registry.exportSpec(principal, id);
    connections.push({ spec, grants: await namedGrants(deps.db, id) });
  }
  const payload: BundlePayload = {
    format: "berth.bundle",
    version: 1,
    exportedAt: (deps.clock?.() ?? new Date()).toISOString(),
    exportedBy: principal.username,
    connections,
  };
  const bundle = await sealBundle(payload, passphrase);
  return { bundle, connectionIds: ids, grants: connections.reduce((n, c) => n + c.grants.length, 0) };
}

function unique(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const id of ids) {
    if (typeof id !== "string" || id === "")
      throw ValidationError.field("connectionIds", "must be connection ids (non-empty strings)");
    seen.add(id);
  }
  return [...seen];
}

/** Every connection the principal holds admin or owner on, in name order. */
async function administered(deps: BundleDeps, principal: Principal): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await deps.registry.list(principal, { pageSize: 500, pageToken });
    for (const c of page.connections)
      if (atLeast(await deps.registry.levelOf(principal, c.id), "admin")) ids.push(c.id);
    pageToken = page.nextPageToken;
  } while (pageToken !== "" && ids.length <= MAX_BUNDLE_CONNECTIONS);
  return ids;
}

/** A connection's grants by name: the user's username, or the Google address. */
async function namedGrants(db: Db, connectionId: string): Promise<NamedGrant[]> {
  const rows = await accessRepository(db).list(connectionId);
  const userIds = rows.flatMap((r) => (r.user_id ? [r.user_id] : []));
  const users =
    userIds.length > 0
      ? await db.selectFrom("users").select(["id", "username"]).where("id", "in", userIds).execute()
      : [];
  const nameOf = new Map(users.map((u) => [u.id, u.username]));
  const grants: NamedGrant[] = [];
  for (const r of rows) {
    if (!isAccessLevel(r.access_level)) continue;
    const name = r.user_id ? nameOf.get(r.user_id) : undefined;
    if (name) grants.push({ kind: "user", principal: name, level: r.access_level });
    else if (r.google_email)
      grants.push({ kind: "google", principal: r.google_email, level: r.access_level });
  }
  return grants;
}
