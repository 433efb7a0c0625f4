import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { ConflictError, UnavailableError } from "../../src/errors/berth-error.js";
import { toConnectError, toRestError } from "../../src/errors/mapping.js";
import { PoolExhaustedError, poolOperationFailed } from "../../src/pools/pool-errors.js";
import type { PoolStatsSnapshot } from "../../src/pools/pool-types.js";

const stats: PoolStatsSnapshot = {
  size: 100,
  idle: 0,
  inUse: 100,
  opening: 0,
  waiting: 3,
  maxSize: 100,
  minSize: 0,
  acquireWaitP95Ms: 0,
  queryP95Ms: 0,
  queriesLastMinute: 0,
};

describe("the RFC's pool error body on REST (RFC 002 §9.3)", () => {
  it("pool exhaustion answers exactly the RFC's fields", () => {
    const e = toRestError(new PoolExhaustedError(stats, 1000), "req-1");
    expect(e.status).toBe(503);
    expect(e.body).toMatchObject({
      error: "pool_operation_failed",
      details: { reason: "pool_exhausted", current_size: 100, max_size: 100 },
    });
    expect(typeof e.body.message).toBe("string");
  });

  it("a failed pool operation (reset while stopping) is a pool_operation_failed body, UNAVAILABLE on gRPC", () => {
    const failed = poolOperationFailed(
      new UnavailableError("Berth is shutting down", { reason: "shutting_down" }),
      stats,
    );
    const e = toRestError(failed, "req-2");
    expect(e.status).toBe(503);
    expect(e.body).toMatchObject({
      error: "pool_operation_failed",
      message: "Unable to manage connection pool: Berth is shutting down",
      details: { reason: "shutting_down", current_size: 100, max_size: 100 },
    });
    expect(toConnectError(failed, "req-2").code).toBe(14); // Unavailable
  });

  it("refusals that are not the pool's keep their own kind", () => {
    const conflict = new ConflictError("no", { reason: "name_taken" });
    expect(poolOperationFailed(conflict, stats)).toBe(conflict);
  });
});

describe("inactive-connection retention (RFC 002 §9.1)", () => {
  it("keeps inactive connections 6 months by default, and 0 still turns it off", () => {
    expect(loadConfig({}).retention.inactiveConnectionDays).toBe(183);
    expect(
      loadConfig({ BERTH_RETENTION_INACTIVE_CONNECTION_DAYS: "0" }).retention.inactiveConnectionDays,
    ).toBe(0);
  });
});
