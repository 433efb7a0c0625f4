import type { Principal } from "../identity/principal.js";
import { accessRepository } from "../store/access-repository.js";
import type { ListScope } from "../store/connection-repository.js";
import type { Db } from "../store/store.js";
import { type AccessLevel, higher, isAccessLevel } from "./levels.js";

/**
 * Who may do what with a connection: the principal's level on it, from its grants (by user id, or
 * by Google address once that Google user signs in). The global admin role acts as owner
 * everywhere. No level means the connection does not exist for that principal (not_found).
 */
export interface AccessPolicy {
  levelOf(principal: Principal, connectionId: string): Promise<AccessLevel | undefined>;
  /** Restricts a listing: undefined = everything. */
  listScope(principal: Principal): ListScope | undefined;
}

export type { ListScope } from "../store/connection-repository.js";

export function grantsPolicy(db: Db): AccessPolicy {
  const grants = accessRepository(db);
  return {
    async levelOf(principal, connectionId) {
      // A service token reaches only the connections it names, and no further than its level.
      if (principal.kind === "service") {
        return principal.scope?.connectionIds.includes(connectionId) ? principal.scope.level : undefined;
      }
      if (principal.role === "admin") return "owner";
      let level: AccessLevel | undefined;
      for (const g of await grants.grantsFor(connectionId, principal.userId, principal.googleEmail)) {
        if (isAccessLevel(g.access_level)) level = higher(level, g.access_level);
      }
      return level;
    },
    listScope(principal) {
      if (principal.kind === "service") return { connectionIds: principal.scope?.connectionIds ?? [] };
      return principal.role === "admin"
        ? undefined
        : { userId: principal.userId, googleEmail: principal.googleEmail };
    },
  };
}
