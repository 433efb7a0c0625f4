import { PermissionDeniedError } from "../errors/berth-error.js";
import type { Principal } from "../identity/principal.js";
import { type AccessLevel, atLeast } from "./levels.js";

/**
 * The "who may" checks that do not depend on a connection's grants. Each answers permission_denied
 * with a stable reason; `message` says what was refused in the caller's words.
 */

/** People only: a service token may not do this, whatever its scope. */
export function requirePerson(principal: Principal, what: string): void {
  if (principal.kind !== "user")
    throw new PermissionDeniedError(`Service tokens may not ${what}`, "service_token");
}

/** A person holding the global admin role (a service token never holds it). */
export function isGlobalAdmin(principal: Principal): boolean {
  return principal.kind === "user" && principal.role === "admin";
}

/** Global admins only; returns the principal so a caller can go on with it. */
export function requireGlobalAdmin(principal: Principal, message: string): Principal {
  if (!isGlobalAdmin(principal)) throw new PermissionDeniedError(message, "not_admin");
  return principal;
}

/** The principal's level on a connection must reach `required`; `what` names the act ("change"). */
export function requireLevel(level: AccessLevel, required: AccessLevel, what: string): void {
  if (!atLeast(level, required)) {
    throw new PermissionDeniedError(
      `Your access to this connection is "${level}"; to ${what} it you need "${required}" or higher`,
    );
  }
}
