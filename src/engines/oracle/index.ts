import type { EngineDefinition } from "../engine.js";
import { oracleDriver } from "./driver.js";
import { TABLE } from "./table.js";

export const oracle: EngineDefinition = { ...TABLE, driver: oracleDriver };
