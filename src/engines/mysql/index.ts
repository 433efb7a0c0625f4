import type { EngineDefinition } from "../engine.js";
import { mysqlDriver } from "./driver.js";

export const mysql: EngineDefinition = {
  id: "mysql",
  label: "MySQL/MariaDB",
  defaultPort: 3306,
  databaseMeaning: "the default schema",
  probeQuery: "SELECT 1",
  resetMethod: "COM_RESET_CONNECTION",
  placeholder: "?",
  sslModes: ["disable", "prefer", "require", "verify-ca", "verify-full"],
  defaultSslMode: "prefer",
  supportsTlsServerName: true,
  driver: mysqlDriver,
};
