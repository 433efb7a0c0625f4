import type { Driver } from "../drivers/driver.js";
import type { EngineDefinition } from "./definition.js";
import type { EngineId } from "./engine.js";
import { mysql } from "./mysql/index.js";
import { oracle } from "./oracle/index.js";
import { postgresql } from "./postgresql/index.js";
import { sqlserver } from "./sqlserver/index.js";

export type { EngineDefinition } from "./definition.js";
export type { EngineId, SslModeId } from "./engine.js";

/** Every engine this build speaks. The one line to add for a fifth. */
export const ENGINES: Readonly<Record<EngineId, EngineDefinition>> = { postgresql, mysql, sqlserver, oracle };

export const ENGINE_IDS = Object.keys(ENGINES) as EngineId[];

export function isEngineId(value: string): value is EngineId {
  return Object.hasOwn(ENGINES, value);
}

export function driverFor(engine: EngineId): Driver {
  return ENGINES[engine].driver;
}
