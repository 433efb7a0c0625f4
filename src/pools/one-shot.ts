import type { QueryChunk } from "../drivers/driver.js";
import type { Intent, PoolManager } from "./pool-manager.js";
import { unacknowledged } from "./roles.js";
import { runStatement, type StatementInput, type StatementOptions } from "./statement.js";

/** A statement's chunk; its completion timed, and with a read-your-writes token after a write. */
export type TimedChunk = QueryChunk & { durationMs?: number; consistencyToken?: string };

/**
 * One statement on a session borrowed from the connection's pool (primary or replica) for just
 * that statement; its duration is recorded on the pool that served it. A READ with a
 * `consistencyToken` is served where that write is visible; a write's completion carries one (on
 * a connection with replicas).
 */
export async function* runOnce(
  pools: PoolManager,
  connectionId: string,
  intent: Intent,
  statement: StatementInput,
  options: StatementOptions,
  consistencyToken = "",
): AsyncGenerator<TimedChunk> {
  const { pool, pooled } = await pools.acquire(connectionId, intent, { consistencyToken });
  try {
    for await (const chunk of runStatement(pooled, pool.driver, statement, options)) {
      if (!chunk.completion) {
        yield chunk;
        continue;
      }
      pool.recordQuery(chunk.durationMs ?? 0);
      if (intent !== "write") {
        yield chunk;
        continue;
      }
      const token = await pools.writeToken(pool, pooled);
      // Its host lost the primary role while it ran: what it wrote there is not the connection's.
      if (pools.demoted(pool)) throw unacknowledged();
      yield token ? { ...chunk, consistencyToken: token } : chunk;
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
