import type { QueryChunk } from "../drivers/driver.js";
import type { Intent, PoolManager } from "./pool-manager.js";
import { unacknowledged } from "./roles.js";
import { runStatement, type StatementInput, type StatementOptions } from "./statement.js";

/**
 * One statement on a session borrowed from the connection's pool (primary or replica) for just
 * that statement; its duration is recorded on the pool that served it.
 */
export async function* runOnce(
  pools: PoolManager,
  connectionId: string,
  intent: Intent,
  statement: StatementInput,
  options: StatementOptions,
): AsyncGenerator<QueryChunk & { durationMs?: number }> {
  const { pool, pooled } = await pools.acquire(connectionId, intent);
  try {
    for await (const chunk of runStatement(pooled, pool.driver, statement, options)) {
      if (chunk.completion) {
        pool.recordQuery(chunk.durationMs ?? 0);
        // Its host lost the primary role while it ran: what it wrote there is not the connection's.
        if (intent === "write" && pools.demoted(pool)) throw unacknowledged();
      }
      yield chunk;
    }
  } catch (err) {
    pools.noteFailure(pool, err);
    throw err;
  } finally {
    // Reset even after one statement: a SET in it must not reach the next borrower. The caller
    // does not wait for it: its result is complete, and the session returns to the pool only
    // once the reset has run (a failed reset drops it), so no borrower can see the old state.
    void pool.release(pooled, { reset: true }).catch(() => {});
  }
}
