import type { EngineDefinition } from "../definition.js";
import { lazyDriver } from "../lazy-driver.js";
import { TABLE } from "./table.js";

export const oracle: EngineDefinition = {
  ...TABLE,
  driver: lazyDriver("oracle", async () => (await import("./driver.js")).oracleDriver),
};
