import type { EngineTable } from "../engine.js";

/** PostgreSQL's row of the engine table: everything about it that is not driver code. */
export const TABLE: EngineTable = {
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
};
