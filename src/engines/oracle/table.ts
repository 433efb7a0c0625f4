import type { EngineTable } from "../engine.js";

/** Oracle's row of the engine table: everything about it that is not driver code. */
export const TABLE: EngineTable = {
  id: "oracle",
  label: "Oracle",
  defaultPort: 1521,
  databaseMeaning: "the service name (or set oracleSid instead)",
  probeQuery: "SELECT 1 FROM DUAL",
  resetMethod: "ROLLBACK, then DBMS_SESSION.RESET_PACKAGE",
  placeholder: ":1",
  sslModes: ["disable", "verify-ca", "verify-full"],
  sslModeNote:
    "a listener port speaks either TCP or TCPS (so there is no prefer), and oracledb's thin mode always verifies the certificate chain (so there is no require)",
  // Listeners on 1521 speak plain TCP unless TCPS was configured; TCPS is usually on 2484.
  defaultSslMode: "disable",
  supportsTlsServerName: false,
};
