import type { EngineDefinition } from "../definition.js";
import { postgresDriver } from "./driver.js";
import { postgresReplication } from "./replication.js";
import { TABLE } from "./table.js";

export const postgresql: EngineDefinition = {
  ...TABLE,
  driver: postgresDriver,
  replication: postgresReplication,
};
