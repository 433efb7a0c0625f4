import { requireLevel } from "../access/guards.js";
import type { AccessLevel } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import { ConflictError, NotFoundError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionRepository } from "../store/connection-repository.js";
import type { SealedConnectionRow } from "../store/schema.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Who may reach which stored connection, and the one name each may have. */
export function createConnectionGate(repo: ConnectionRepository, policy: AccessPolicy) {
  return {
    /**
     * Loads a row the principal may see, checking their level on it. Any other id answers
     * not_found, whether or not it exists, so ids cannot be probed. The settings stay sealed:
     * deciding who may do what needs no key.
     */
    async visibleRow(
      principal: Principal,
      id: string,
      required: AccessLevel = "viewer",
      what = "see",
    ): Promise<SealedConnectionRow> {
      const row = UUID.test(id) ? await repo.findById(id) : undefined;
      const level = row ? await policy.levelOf(principal, id) : undefined;
      if (!row || !level) throw new NotFoundError("connection", id);
      requireLevel(level, required, what);
      return row;
    },

    async assertNameFree(nameKey: string, exceptId?: string): Promise<void> {
      const existing = await repo.idOfNameKey(nameKey);
      if (existing !== undefined && existing !== exceptId) throw nameTaken();
    },
  };
}

export type ConnectionGate = ReturnType<typeof createConnectionGate>;

export function nameTaken(): ConflictError {
  return new ConflictError("A connection with this name already exists", {
    reason: "name_taken",
    field: "name",
  });
}

export function staleVersion(current: number, sent: number): ConflictError {
  return new ConflictError(
    `The connection was changed meanwhile: version ${current} is current, the request expected ${sent}; reload it and retry`,
    { reason: "version_mismatch", current_version: current, expected_version: sent },
  );
}
