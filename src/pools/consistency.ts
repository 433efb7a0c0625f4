import type { EngineId } from "../engines/engine.js";
import { ENGINES } from "../engines/index.js";
import { ValidationError } from "../errors/berth-error.js";

/*
 * Read-your-writes tokens: a write's position on the primary, tagged with the engine
 * ("postgresql:0/5000148"). Opaque to callers; nothing secret in them (a WAL position), and a
 * token made up or from another connection can only make a READ go to the primary.
 */

export function tokenOf(engine: EngineId, position: string): string {
  return `${engine}:${position}`;
}

/**
 * The position a READ's token asks for, or undefined for none (""). A token that is not one of this
 * engine's is refused with a reason rather than ignored: the caller would read stale data unawares.
 */
export function positionOf(token: string, engine: EngineId): string | undefined {
  if (token === "") return undefined;
  const prefix = `${engine}:`;
  const position = token.startsWith(prefix) ? token.slice(prefix.length) : "";
  const compare = ENGINES[engine].replication?.compare;
  if (compare?.(position, position) !== 0)
    throw ValidationError.field(
      "consistencyToken",
      "is not a token Berth gave for a write on this connection (give the one from the write's completion or commit)",
    );
  return position;
}
