import type { EngineTable } from "../engine.js";

/** MySQL/MariaDB's row of the engine table: everything about it that is not driver code. */
export const TABLE: EngineTable = {
  id: "mysql",
  label: "MySQL/MariaDB",
  defaultPort: 3306,
  databaseMeaning: "the default schema",
  // Sessions ping with COM_PING, the protocol's own round trip; this is the statement form.
  probeQuery: "SELECT 1",
  resetMethod: "COM_RESET_CONNECTION",
  placeholder: "?",
  sslModes: ["disable", "prefer", "require", "verify-ca", "verify-full"],
  defaultSslMode: "prefer",
  supportsTlsServerName: true,
};
