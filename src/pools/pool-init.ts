import { BerthError } from "../errors/berth-error.js";
import { poolOperationFailed } from "./pool-errors.js";
import type { PoolManager } from "./pool-manager.js";
import type { PoolStatsSnapshot } from "./pool-types.js";

export type PoolInitResult = { ok: true; stats: PoolStatsSnapshot } | { ok: false; error: BerthError };

/**
 * The RFC's creation flow, "Initialize Pool": the new connection's pool is built and opens one
 * session (returned to it at once, kept idle for the first caller). A failure is answered, not
 * thrown: the connection exists either way, and its status says what the pool found.
 */
export async function initializePool(pools: PoolManager, connectionId: string): Promise<PoolInitResult> {
  try {
    const { pool, pooled } = await pools.acquire(connectionId, "write");
    await pool.release(pooled, { reset: false });
    return { ok: true, stats: pool.stats() };
  } catch (err) {
    const stats = pools.poolsOf(connectionId)[0]?.stats();
    const error =
      err instanceof BerthError ? err : new BerthError("internal", "Internal error", {}, { cause: err });
    return { ok: false, error: poolOperationFailed(error, stats) };
  }
}
