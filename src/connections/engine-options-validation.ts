import type { EngineId } from "../engines/index.js";
import type { ConnectionSpecInput, EngineOptions } from "./settings.js";
import { type Bad, text } from "./spec-fields.js";

/** The engine-specific fields: each is refused on an engine it means nothing to. */
export function engineOptionsOf(input: ConnectionSpecInput, engine: EngineId, bad: Bad): EngineOptions {
  const only = (field: string, value: unknown, owner: EngineId, label: string) => {
    if (value !== undefined && value !== "" && value !== false && engine !== owner)
      bad(field, `applies only to ${label} connections`);
  };
  only("instanceName", input.instanceName, "sqlserver", "SQL Server");
  only("strictEncryption", input.strictEncryption, "sqlserver", "SQL Server");
  only("oracleSid", input.oracleSid, "oracle", "Oracle");
  const cleartextEngine = engine === "postgresql" || engine === "mysql";
  if (input.allowCleartextPassword === true && !cleartextEngine)
    bad("allowCleartextPassword", "applies only to PostgreSQL and MySQL connections");
  const instanceName =
    engine === "sqlserver" ? text(input.instanceName, "instanceName", 128, bad, false) : "";
  if (instanceName && !/^[\p{L}\p{N}_$#-]+$/u.test(instanceName))
    bad("instanceName", "must be an instance name: letters, digits, '_', '$', '#' and '-'");
  const oracleSid = engine === "oracle" ? text(input.oracleSid, "oracleSid", 64, bad, false) : "";
  const mode = input.frontDoorPoolMode || "transaction";
  if (mode !== "transaction" && mode !== "session")
    bad("frontDoorPoolMode", "must be transaction or session");
  else if (mode === "session" && engine !== "postgresql")
    bad("frontDoorPoolMode", "applies only to PostgreSQL connections (the front door speaks PostgreSQL)");
  const maxReplicaLagMs = replicaLagOf(input.maxReplicaLagMs, engine, bad);
  if (oracleSid && !/^[A-Za-z][A-Za-z0-9_$#]*$/.test(oracleSid))
    bad("oracleSid", "must be an Oracle SID: a letter, then letters, digits, '_', '$' and '#'");
  return {
    instanceName,
    strictEncryption: engine === "sqlserver" && input.strictEncryption === true,
    oracleSid,
    allowCleartextPassword: cleartextEngine && input.allowCleartextPassword === true,
    frontDoorPoolMode: mode === "session" ? "session" : "transaction",
    maxReplicaLagMs,
  };
}

/** A day: a replica further behind than that is not one to bound reads by. */
const MAX_REPLICA_LAG_MS = 86_400_000;

function replicaLagOf(value: number | undefined, engine: EngineId, bad: Bad): number {
  if (value === undefined || value === 0) return 0;
  if (!Number.isInteger(value) || value < 0 || value > MAX_REPLICA_LAG_MS) {
    bad("maxReplicaLagMs", `must be an integer from 0 (no bound) to ${MAX_REPLICA_LAG_MS} milliseconds`);
    return 0;
  }
  if (engine !== "postgresql" && engine !== "mysql") {
    bad(
      "maxReplicaLagMs",
      "applies only to PostgreSQL and MariaDB connections (where replica lag is measured)",
    );
    return 0;
  }
  return value;
}
