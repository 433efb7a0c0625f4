import type { Principal } from "../identity/principal.js";
import type { ConnectionRow } from "../store/schema.js";

/**
 * Who may do what with a connection. This first policy knows two facts: the global admin role, and
 * who created a connection. Per-connection grants (viewer < user < editor < admin < owner) replace
 * it behind this same interface.
 */
export interface AccessPolicy {
  /** May see the connection at all; if not, it answers not_found. */
  canView(principal: Principal, row: ConnectionRow): boolean;
  /** May test it and use its pool. */
  canUse(principal: Principal, row: ConnectionRow): boolean;
  /** May change or delete it. */
  canEdit(principal: Principal, row: ConnectionRow): boolean;
  /** Restricts a listing: undefined = everything. */
  listScope(principal: Principal): { createdById: string } | undefined;
}

export const creatorPolicy: AccessPolicy = {
  canView: (p, row) => p.role === "admin" || row.created_by_id === p.userId,
  canUse: (p, row) => p.role === "admin" || row.created_by_id === p.userId,
  canEdit: (p, row) => p.role === "admin" || row.created_by_id === p.userId,
  listScope: (p) => (p.role === "admin" ? undefined : { createdById: p.userId }),
};
