import type { EngineDefinition } from "../engine.js";
import { postgresDriver } from "./driver.js";

export const postgresql: EngineDefinition = {
  id: "postgresql",
  label: "PostgreSQL",
  defaultPort: 5432,
  databaseMeaning: "the database name",
  probeQuery: "SELECT 1",
  resetMethod: "DISCARD ALL (after ROLLBACK if a transaction is open)",
  placeholder: "$1",
  sslModes: ["disable", "prefer", "require", "verify-ca", "verify-full"],
  defaultSslMode: "prefer",
  supportsTlsServerName: true,
  driver: postgresDriver,
};
