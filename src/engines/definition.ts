import type { Driver } from "../drivers/driver.js";
import type { EngineTable } from "./engine.js";

/** An engine's table and its driver (src/engines/<id>/index.ts). */
export interface EngineDefinition extends EngineTable {
  readonly driver: Driver;
}
