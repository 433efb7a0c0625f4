/**
 * One row per engine: everything that differs between engines and is not driver code. Adding an
 * engine means a row here and a driver in src/drivers.
 */
export type EngineId = "postgresql" | "mysql" | "sqlserver" | "oracle";

export interface EngineInfo {
  readonly id: EngineId;
  readonly label: string;
  readonly defaultPort: number;
}

export const ENGINES: Readonly<Record<EngineId, EngineInfo>> = {
  postgresql: { id: "postgresql", label: "PostgreSQL", defaultPort: 5432 },
  mysql: { id: "mysql", label: "MySQL/MariaDB", defaultPort: 3306 },
  sqlserver: { id: "sqlserver", label: "SQL Server", defaultPort: 1433 },
  oracle: { id: "oracle", label: "Oracle", defaultPort: 1521 },
};

export const ENGINE_IDS = Object.keys(ENGINES) as EngineId[];

export function isEngineId(value: string): value is EngineId {
  return Object.hasOwn(ENGINES, value);
}
