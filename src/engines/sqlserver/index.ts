import type { EngineDefinition } from "../definition.js";
import { sqlServerDriver } from "./driver.js";
import { TABLE } from "./table.js";

export const sqlserver: EngineDefinition = { ...TABLE, driver: sqlServerDriver };
