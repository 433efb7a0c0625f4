import type { EngineDefinition } from "../definition.js";
import { oracleDriver } from "./driver.js";
import { TABLE } from "./table.js";

export const oracle: EngineDefinition = { ...TABLE, driver: oracleDriver };
