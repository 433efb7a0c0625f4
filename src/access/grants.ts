import type { ConnectionRegistry } from "../connections/registry.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import { accessRepository, type Grantee } from "../store/access-repository.js";
import type { ConnectionAccessRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import type { AccessLevel } from "./levels.js";

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export interface AccessManagerDeps {
  db: Db;
  registry: ConnectionRegistry;
  clock?: () => Date;
  /** Told after a grant changed, so that cached access decisions are dropped. */
  onAccessChanged?: (connectionId: string) => void;
}

/**
 * Grants on connections. Admins of a connection manage its grants; only owners grant or remove
 * owners; the last owner stays. Every check happens here, on the server.
 */
export function createAccessManager(deps: AccessManagerDeps) {
  const grants = accessRepository(deps.db);
  const clock = deps.clock ?? (() => new Date());

  function grantee(userId: string | undefined, googleEmail: string | undefined): Grantee {
    if (userId && googleEmail) throw ValidationError.field("grantee", "give userId or googleEmail, not both");
    if (userId) return { userId };
    if (googleEmail) {
      if (!EMAIL.test(googleEmail)) throw ValidationError.field("googleEmail", "must be an email address");
      return { googleEmail: googleEmail.toLowerCase() };
    }
    throw ValidationError.field("grantee", "give userId or googleEmail");
  }

  return {
    async grant(
      principal: Principal,
      connectionId: string,
      who: { userId?: string; googleEmail?: string },
      level: AccessLevel,
    ) {
      await deps.registry.authorize(
        principal,
        connectionId,
        level === "owner" ? "owner" : "admin",
        "manage access to",
      );
      const target = grantee(who.userId, who.googleEmail);
      if (target.userId) {
        const user = await deps.db
          .selectFrom("users")
          .select("id")
          .where("id", "=", target.userId)
          .executeTakeFirst();
        if (!user) throw ValidationError.field("userId", "no user has this id");
      }
      const existing = await grants.find(connectionId, target);
      if (existing?.access_level === "owner" && level !== "owner")
        await demotionAllowed(principal, connectionId);
      const now = clock().toISOString();
      await grants.upsert({
        connection_id: connectionId,
        user_id: target.userId ?? null,
        google_email: target.googleEmail ?? null,
        access_level: level,
        assigned_at: now,
        assigned_by_id: principal.userId,
      });
      deps.onAccessChanged?.(connectionId);
      return (await grants.find(connectionId, target))!;
    },

    async list(
      principal: Principal,
      connectionId: string,
    ): Promise<(ConnectionAccessRow & { username: string | null })[]> {
      await deps.registry.authorize(principal, connectionId, "admin", "see the access list of");
      return grants.list(connectionId);
    },

    async revoke(principal: Principal, connectionId: string, who: { userId?: string; googleEmail?: string }) {
      await deps.registry.authorize(principal, connectionId, "admin", "manage access to");
      const existing = await grants.find(connectionId, grantee(who.userId, who.googleEmail));
      if (!existing) throw new NotFoundError("grant", who.userId ?? who.googleEmail ?? "");
      if (existing.access_level === "owner") await demotionAllowed(principal, connectionId);
      await grants.remove(existing.id);
      deps.onAccessChanged?.(connectionId);
    },
  };

  /** Only an owner may remove or demote an owner, and the last owner stays. */
  async function demotionAllowed(principal: Principal, connectionId: string): Promise<void> {
    await deps.registry.authorize(principal, connectionId, "owner", "remove or demote an owner of");
    if ((await grants.countOwners(connectionId)) <= 1) {
      throw new ConflictError("A connection keeps at least one owner: grant owner to someone else first", {
        reason: "last_owner",
      });
    }
  }
}

export type AccessManager = ReturnType<typeof createAccessManager>;
