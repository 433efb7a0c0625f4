/**
 * The connection budget's Redis scripts. Each runs atomically in Redis, which is what makes the bound
 * hold across instances: "drop the expired leases, count, add one if under the maximum" cannot
 * interleave with another instance's. Expiry times are Redis's own clock (TIME), so the instances'
 * clocks do not have to agree.
 *
 * The budget of a connection's host is a sorted set: member `<instanceId>:<n>` (one per session),
 * score = when its lease runs out, in ms. The key itself expires with its last lease, so a budget
 * nobody holds leaves nothing behind.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function keep(ttl)
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
`;

/** KEYS[1] the budget; ARGV member, max, ttlMs → {1, held} taken, {0, held} full. */
export const TAKE = `${NOW}
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[2]) then return {0, held} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
keep(tonumber(ARGV[3]))
return {1, held + 1}
`;

/**
 * KEYS[1] the budget; ARGV max, ttlMs, members… → the members lost. Extends the lease of every member
 * this instance still holds. A member that is no longer there (its lease ran out while this instance
 * could not reach Redis, or Redis lost its data) is taken again if there is room — after a Redis
 * restart every instance re-registers what it holds, and nobody opened more meanwhile — and is lost
 * otherwise: others have used its place, so its session must close.
 */
export const RENEW = `${NOW}
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) or redis.call('ZCARD', KEYS[1]) < max then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then keep(ttl) end
return lost
`;

/** KEYS[1] the budget; ARGV member, channel → 1 if it was held. Tells waiting instances at once. */
export const GIVE_BACK = `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed > 0 then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
return removed
`;
