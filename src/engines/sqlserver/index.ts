import type { EngineDefinition } from "../definition.js";
import { lazyDriver } from "../lazy-driver.js";
import { TABLE } from "./table.js";

export const sqlserver: EngineDefinition = {
  ...TABLE,
  driver: lazyDriver("sqlserver", async () => (await import("./driver.js")).sqlServerDriver, {
    locates: true,
  }),
};
