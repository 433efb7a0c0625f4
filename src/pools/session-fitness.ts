import { within } from "./bounded.js";
import type { PooledSession } from "./pool-types.js";

// Time is read from the global `performance` (not node:perf_hooks' export) so tests' fake timers move it.

/** Sessions idle longer than this are pinged before they are handed out. */
export const VALIDATE_AFTER_IDLE_MS = 5_000;

/** Why a session must not be handed out again though it works: too old, or its permit lost. */
export function spentReason(
  pooled: PooledSession,
  maxLifetimeMs: number,
  now = performance.now(),
): "max_lifetime" | "permit_lost" | undefined {
  if (maxLifetimeMs > 0 && now - pooled.createdAt > maxLifetimeMs) return "max_lifetime";
  return pooled.permit?.lost ? "permit_lost" : undefined;
}

/**
 * Idle sessions are fine if their socket is; after a while idle, only if they answer a ping in
 * time (and before the caller's deadline `until`): "no_answer" when the ping went unanswered.
 */
export async function stillUsable(
  pooled: PooledSession,
  until: number,
  connectTimeoutMs: number,
): Promise<boolean | "no_answer"> {
  if (!pooled.session.healthy) return false;
  if (performance.now() - pooled.lastReleasedAt < VALIDATE_AFTER_IDLE_MS) return true;
  // Bounded: a ping into a black-holed network must not hold the caller forever.
  const bound = Math.max(0, Math.min(2_000, connectTimeoutMs, until - performance.now()));
  const answered = pooled.session.ping().then(
    () => true,
    () => false,
  );
  return within(answered, bound, () => "no_answer" as const);
}
