import type { EngineId } from "../connections/engines.js";
import type { Driver } from "./driver.js";
import { mysqlDriver } from "./mysql.js";
import { postgresDriver } from "./postgres.js";

const DRIVERS: Partial<Record<EngineId, Driver>> = {
  postgresql: postgresDriver,
  mysql: mysqlDriver,
};

/** The driver for an engine, or undefined while the engine is not supported by this build. */
export function driverFor(engine: EngineId): Driver | undefined {
  return DRIVERS[engine];
}
