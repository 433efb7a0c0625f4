import type { EngineDefinition } from "../definition.js";
import { mysqlDriver } from "./driver.js";
import { mysqlReplication } from "./replication.js";
import { TABLE } from "./table.js";

export const mysql: EngineDefinition = { ...TABLE, driver: mysqlDriver, replication: mysqlReplication };
