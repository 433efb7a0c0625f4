import type { Driver } from "../drivers/driver.js";
import type { ReplicationQuestions } from "../drivers/replication.js";
import type { EngineTable } from "./engine.js";

/** An engine's table and its driver (src/engines/<id>/index.ts). */
export interface EngineDefinition extends EngineTable {
  readonly driver: Driver;
  /**
   * How a health check asks a host whether it is a primary or a replica (and its timeline and
   * lag). Absent: the engine's roles are not observed, and a connection's hosts keep the roles
   * they were saved with.
   */
  readonly replication?: ReplicationQuestions;
}
