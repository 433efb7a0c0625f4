import { ENGINES, type EngineDefinition, type EngineId } from "../engines/index.js";
import { hostProblem, normalizeHost } from "./host.js";
import type { ConnectionSpecInput, EngineOptions, HostPort } from "./settings.js";
import { type Bad, LIMITS, portCheck, text } from "./spec-fields.js";

/** The primary's host, normalized; required. */
export function serverOf(value: string | undefined, bad: Bad): string {
  const server = normalizeHost(value ?? "");
  if (value === undefined || value === "") bad("server", "is required: the database host name or IP address");
  else {
    const problem = hostProblem(server);
    if (problem) bad("server", problem);
  }
  return server;
}

/** The primary's port: the engine's default when absent. */
export function portOf(
  value: number | undefined,
  engine: EngineDefinition,
  options: EngineOptions,
  bad: Bad,
): number {
  // A named instance's port is looked up at connect time; 0 says so.
  const port = options.instanceName ? 0 : (value ?? engine.defaultPort);
  if (options.instanceName && value !== undefined && value !== 0)
    bad("port", "must not be set with instanceName: the SQL Server Browser tells the instance's port");
  else if (!options.instanceName) portCheck(port, "port", bad);
  return port;
}

/** The database (for Oracle: the service name), required unless an Oracle SID names the target. */
export function databaseOf(
  value: string | undefined,
  engine: EngineId,
  options: EngineOptions,
  bad: Bad,
): string {
  const bySid = engine === "oracle" && options.oracleSid !== "";
  const database = text(value, "database", LIMITS.databaseChars, bad, !bySid);
  if (bySid && database)
    bad(
      "oracleSid",
      "must not be set with database (the service name): an Oracle target is one or the other",
    );
  return database;
}

/** An Oracle database is a service name, which the listener matches by these characters only. */
export function oracleServiceNameCheck(database: string, bad: Bad): void {
  if (database && !/^[A-Za-z0-9][A-Za-z0-9._$#-]*$/.test(database))
    bad("database", "must be an Oracle service name: letters, digits, '.', '_', '$', '#' and '-'");
}

/** The read replicas: each a valid host and port, none repeating the primary or one another. */
export function replicaList(
  replicas: ConnectionSpecInput["replicas"],
  type: EngineId,
  primary: HostPort,
  bad: Bad,
): HostPort[] {
  if (!replicas) return [];
  if (replicas.length > LIMITS.replicas) {
    bad("replicas", `must list at most ${LIMITS.replicas} hosts`);
    return [];
  }
  const seen = new Set([`${primary.server.toLowerCase()}:${primary.port}`]);
  return replicas.map((r, i) => {
    const server = normalizeHost(r.server ?? "");
    const problem = hostProblem(server);
    if (problem) bad(`replicas[${i}].server`, problem);
    const port = r.port === undefined || r.port === 0 ? ENGINES[type].defaultPort : r.port;
    portCheck(port, `replicas[${i}].port`, bad);
    const key = `${server.toLowerCase()}:${port}`;
    if (!problem && seen.has(key)) bad(`replicas[${i}]`, `duplicates ${server}:${port}`);
    seen.add(key);
    return { server, port };
  });
}
