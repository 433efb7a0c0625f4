import { BerthError, ValidationError } from "../errors/berth-error.js";
import type { ErrorFields } from "./wire.js";

/** An error Berth raises itself on the front door, as the client's ErrorResponse fields. */
export type FrontDoorError = ErrorFields;

/** The backend died under the client: its transaction is gone, the client is not. */
export function lostBackend(connectionName: string, serverSaid?: string): FrontDoorError {
  return {
    severity: "ERROR",
    code: "08006",
    message: `the database session of connection "${connectionName}" was lost; the transaction did not complete`,
    ...(serverSaid ? { detail: `The database ended the session: ${serverSaid.slice(0, 200)}` } : {}),
    hint: "Run the transaction again: the next one gets a new session.",
  };
}

function detailOf(details: Record<string, unknown>, keys: readonly string[]): string | undefined {
  const parts = keys.filter((k) => details[k] !== undefined).map((k) => `${k}=${String(details[k])}`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

/**
 * Why a client got no backend, in SQLSTATEs: 53300 when the pool is exhausted past its acquire
 * timeout (with the RFC's numbers in the detail), 57P01 while Berth shuts down, 08006 when the
 * database cannot be reached, 58000 otherwise. The message says what to do.
 */
export function frontDoorErrorOf(err: unknown, connectionName: string): FrontDoorError {
  if (!(err instanceof BerthError)) {
    return {
      severity: "ERROR",
      code: "58000",
      message: `Berth could not serve connection "${connectionName}"`,
    };
  }
  const reason = String(err.details.reason ?? "");
  if (reason === "pool_exhausted")
    return {
      severity: "ERROR",
      code: "53300",
      message: `${err.message} (connection "${connectionName}")`,
      // With several Berth instances the budget is shared: its numbers say who holds the sessions.
      detail: detailOf(err.details, ["current_size", "max_size", "waiting", "budget_held", "budget_max"]),
      hint: "Make transactions shorter, or raise the connection's maxPoolSize or acquireTimeoutMs.",
    };
  // The sessions' budget shared by Berth instances (Redis) cannot be asked: not the database's fault.
  if (reason === "budget_unavailable")
    return {
      severity: "ERROR",
      code: "53300",
      message: `${err.message} (connection "${connectionName}")`,
      detail: detailOf(err.details, ["reason", "in_use", "max_size", "waiting"]),
      hint: "Check Berth's Redis (BERTH_REDIS_URL): sessions already open keep serving meanwhile.",
    };
  if (
    err instanceof ValidationError &&
    err.details.fields &&
    "consistencyToken" in (err.details.fields as object)
  )
    return {
      severity: "ERROR",
      code: "22023",
      message: `berth.read_after is not a token Berth gave for a write on connection "${connectionName}"; it was reset`,
      hint: "Set it to the value of SELECT 'postgresql:' || pg_current_wal_insert_lsn() run after the write committed.",
    };
  if (reason === "shutting_down" || reason === "pool_closed")
    return { severity: "ERROR", code: "57P01", message: `Berth is shutting down: ${err.message}` };
  if (err.kind === "unavailable")
    return {
      severity: "ERROR",
      code: "08006",
      message: `the database of connection "${connectionName}" cannot be reached: ${err.message}`,
      detail: detailOf(err.details, ["reason", "opening", "in_use", "max_size"]),
      hint: "Test the connection in Berth (POST /api/connections/{id}/test) for a step-by-step diagnosis.",
    };
  return {
    severity: "ERROR",
    code: "58000",
    message: `Berth could not serve connection "${connectionName}": ${err.message}`,
  };
}
