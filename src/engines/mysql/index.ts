import type { EngineDefinition } from "../definition.js";
import { mysqlDriver } from "./driver.js";
import { TABLE } from "./table.js";

export const mysql: EngineDefinition = { ...TABLE, driver: mysqlDriver };
