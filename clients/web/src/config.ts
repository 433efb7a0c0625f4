import { createContext, useContext } from "react";
import { Engine, SslMode } from "../../../src/gen/berth/v1/types_pb.js";

/** An engine as Berth's engine table describes it (src/engines/<id>/table.ts), served in the config. */
export interface EngineInfo {
  id: "postgresql" | "mysql" | "sqlserver" | "oracle";
  label: string;
  defaultPort: number;
  databaseMeaning: string;
  sslModes: string[];
  defaultSslMode: string;
  supportsTlsServerName: boolean;
}

export interface ConsoleConfig {
  googleClientId: string | null;
  engines: EngineInfo[];
}

let loading: Promise<ConsoleConfig> | undefined;

/** /console/config.json, fetched once per page. */
export function loadConsoleConfig(): Promise<ConsoleConfig> {
  loading ??= fetch("/console/config.json").then((r) => r.json() as Promise<ConsoleConfig>);
  return loading;
}

export const ConfigContext = createContext<ConsoleConfig>({ googleClientId: null, engines: [] });
export const useConsoleConfig = () => useContext(ConfigContext);

/** The wire's enums for the table's names. */
export const ENGINE_VALUES: Record<EngineInfo["id"], Engine> = {
  postgresql: Engine.POSTGRESQL,
  mysql: Engine.MYSQL,
  sqlserver: Engine.SQLSERVER,
  oracle: Engine.ORACLE,
};

export const SSL_VALUES: Record<string, SslMode> = {
  disable: SslMode.DISABLE,
  prefer: SslMode.PREFER,
  require: SslMode.REQUIRE,
  "verify-ca": SslMode.VERIFY_CA,
  "verify-full": SslMode.VERIFY_FULL,
};

export function engineInfo(config: ConsoleConfig, engine: Engine): EngineInfo | undefined {
  return config.engines.find((e) => ENGINE_VALUES[e.id] === engine);
}
