import { type ConnectionSpecInput, POOL_DEFAULTS, type PoolSettings } from "./settings.js";
import { type Bad, LIMITS } from "./spec-fields.js";

/** The pool's sizes and timeouts, each defaulted when absent and refused outside its range. */
export function poolSettings(input: ConnectionSpecInput, bad: Bad): PoolSettings {
  const maxPoolSize = input.maxPoolSize ?? POOL_DEFAULTS.maxPoolSize;
  if (!Number.isInteger(maxPoolSize) || maxPoolSize < 1 || maxPoolSize > LIMITS.maxPoolSize) {
    bad("maxPoolSize", `must be an integer from 1 to ${LIMITS.maxPoolSize} (got ${maxPoolSize})`);
  }
  const minPoolSize = input.minPoolSize ?? POOL_DEFAULTS.minPoolSize;
  if (!Number.isInteger(minPoolSize) || minPoolSize < 0 || minPoolSize > maxPoolSize) {
    bad("minPoolSize", `must be an integer from 0 to maxPoolSize (${maxPoolSize})`);
  }
  const ranged = (value: number | undefined, field: string, fallback: number, min: number, max: number) => {
    const n = value ?? fallback;
    if (!Number.isInteger(n) || n < min || n > max)
      bad(field, `must be an integer from ${min} to ${max} milliseconds`);
    return n;
  };
  return {
    maxPoolSize,
    minPoolSize,
    acquireTimeoutMs: ranged(
      input.acquireTimeoutMs,
      "acquireTimeoutMs",
      POOL_DEFAULTS.acquireTimeoutMs,
      LIMITS.acquireTimeoutMs.min,
      LIMITS.acquireTimeoutMs.max,
    ),
    idleTimeoutMs: ranged(
      input.idleTimeoutMs,
      "idleTimeoutMs",
      POOL_DEFAULTS.idleTimeoutMs,
      LIMITS.idleTimeoutMs.min,
      LIMITS.idleTimeoutMs.max,
    ),
    maxLifetimeMs: ranged(
      input.maxLifetimeMs,
      "maxLifetimeMs",
      POOL_DEFAULTS.maxLifetimeMs,
      0,
      LIMITS.maxLifetimeMs.max,
    ),
  };
}
