import type { AccessLevel } from "../access/levels.js";
import type { AccessPolicy } from "../access/policy.js";
import type { Principal } from "../identity/principal.js";
import type { ConnectionRepository } from "../store/connection-repository.js";

export interface FoundForUse {
  id: string;
  name: string;
  type: string;
  level: AccessLevel;
}

/**
 * A connection by its name (case-insensitive) or id, with the principal's level on it; undefined
 * when there is none or the principal may not see it (the two must look alike to a caller).
 */
export async function findForUse(
  repo: ConnectionRepository,
  policy: Pick<AccessPolicy, "levelOf">,
  principal: Principal,
  nameOrId: string,
): Promise<FoundForUse | undefined> {
  if (nameOrId === "" || nameOrId.length > 200) return undefined;
  const id = (await repo.idOfNameKey(nameOrId.toLowerCase())) ?? nameOrId;
  // Id, name and type are clear columns: nothing here is decrypted.
  const row = await repo.findById(id);
  if (!row) return undefined;
  const level = await policy.levelOf(principal, row.id);
  return level ? { id: row.id, name: row.name, type: row.type, level } : undefined;
}
