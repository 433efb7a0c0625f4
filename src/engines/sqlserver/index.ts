import type { EngineDefinition } from "../engine.js";
import { sqlServerDriver } from "./driver.js";
import { TABLE } from "./table.js";

export const sqlserver: EngineDefinition = { ...TABLE, driver: sqlServerDriver };
