import type { EngineTable } from "../engine.js";

/** SQL Server's row of the engine table: everything about it that is not driver code. */
export const TABLE: EngineTable = {
  id: "sqlserver",
  label: "SQL Server",
  defaultPort: 1433,
  databaseMeaning: "the initial database (catalog)",
  probeQuery: "SELECT 1",
  resetMethod: "sp_reset_connection (tedious flags the next request with RESETCONNECTION)",
  placeholder: "@p1",
  sslModes: ["disable", "require", "verify-full"],
  sslModeNote:
    "tedious verifies the certificate's chain and name together (verify-full) or neither (require), and has no 'TLS if offered' (prefer)",
  // tedious's own default: encrypt, and verify the certificate.
  defaultSslMode: "verify-full",
  supportsTlsServerName: true,
};
