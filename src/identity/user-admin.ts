import { requireGlobalAdmin } from "../access/guards.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors/berth-error.js";
import { isUniqueViolation } from "../store/errors.js";
import type { UserRow } from "../store/schema.js";
import type { Db } from "../store/store.js";
import { hashPassword } from "./passwords.js";
import type { Principal } from "./principal.js";
import { makeScramVerifier } from "./scram.js";
import { createLocalUser } from "./users.js";

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ROLES = ["admin", "member"] as const;
type Role = (typeof ROLES)[number];

/** User management for global admins: the only way members come to exist besides Google sign-in. */
export function createUserAdmin(deps: {
  db: Db;
  clock?: () => Date;
  onUserChanged?: (userId: string) => void;
  /** Lifts the sign-in throttle's locks on an account name. */
  clearSignInLocks?: (account: string) => Promise<void>;
}) {
  const clock = deps.clock ?? (() => new Date());

  const requireAdmin = (p: Principal) => requireGlobalAdmin(p, "Managing users needs the global admin role");

  function role(value: string | undefined, field = "role"): Role {
    const r = value === undefined || value === "" ? "member" : value;
    if (!(ROLES as readonly string[]).includes(r))
      throw ValidationError.field(field, 'must be "admin" or "member"');
    return r as Role;
  }

  function password(value: string): string {
    if (value.length < 12) throw ValidationError.field("password", "must be at least 12 characters");
    if (value.length > 1024) throw ValidationError.field("password", "must be at most 1024 characters");
    return value;
  }

  async function find(id: string): Promise<UserRow> {
    const row = await deps.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError("user", id);
    return row;
  }

  /** The last enabled admin stays, or nobody could manage Berth any more. */
  async function keepAnAdmin(except: string): Promise<void> {
    const others = await deps.db
      .selectFrom("users")
      .select("id")
      .where("role", "=", "admin")
      .where("disabled", "=", 0)
      .where("id", "!=", except)
      .executeTakeFirst();
    if (!others) throw new ConflictError("Berth keeps at least one enabled admin", { reason: "last_admin" });
  }

  return {
    async create(
      p: Principal,
      input: { username: string; password: string; role?: string },
    ): Promise<UserRow> {
      requireAdmin(p);
      if (!USERNAME.test(input.username)) {
        throw ValidationError.field(
          "username",
          "1–64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        );
      }
      const r = role(input.role);
      try {
        return await createLocalUser(deps.db, input.username, password(input.password), r, clock());
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConflictError("A user with this name exists", { reason: "username_taken" });
        throw err;
      }
    },

    async list(p: Principal): Promise<UserRow[]> {
      requireAdmin(p);
      return deps.db.selectFrom("users").selectAll().orderBy("username").execute();
    },

    async update(
      p: Principal,
      id: string,
      change: { role?: string | undefined; password?: string | undefined; disabled?: boolean | undefined },
    ) {
      requireAdmin(p);
      const row = await find(id);
      const patch: Partial<UserRow> = {};
      if (change.role !== undefined) {
        patch.role = role(change.role);
        if (row.role === "admin" && patch.role !== "admin") await keepAnAdmin(id);
      }
      if (change.password !== undefined) {
        // The verifier is replaced with the hash, so the old password stops working at the front door too.
        const pw = password(change.password);
        [patch.password_hash, patch.scram_verifier] = await Promise.all([
          hashPassword(pw),
          makeScramVerifier(pw),
        ]);
      }
      if (change.disabled !== undefined) {
        if (change.disabled && row.role === "admin") await keepAnAdmin(id);
        patch.disabled = change.disabled ? 1 : 0;
      }
      if (Object.keys(patch).length > 0)
        await deps.db.updateTable("users").set(patch).where("id", "=", id).execute();
      // A changed password or a disabled account ends the user's sessions.
      if (change.password !== undefined || change.disabled) {
        await deps.db
          .updateTable("sessions")
          .set({ revoked_at: clock().toISOString() })
          .where("user_id", "=", id)
          .where("revoked_at", "is", null)
          .execute();
      }
      deps.onUserChanged?.(id);
      return find(id);
    },

    async remove(p: Principal, id: string): Promise<void> {
      requireAdmin(p);
      const row = await find(id);
      if (row.role === "admin") await keepAnAdmin(id);
      await deps.db.deleteFrom("users").where("id", "=", id).execute();
      deps.onUserChanged?.(id);
    },

    async clearSignInLocks(p: Principal, username: string): Promise<void> {
      requireAdmin(p);
      if (username === "" || username.length > 128)
        throw ValidationError.field("username", "is required (at most 128 characters)");
      await deps.clearSignInLocks?.(username.toLowerCase());
    },
  };
}

export type UserAdmin = ReturnType<typeof createUserAdmin>;
