import { Redis } from "ioredis";

const CHANNEL = "berth:cache-invalidation";

/**
 * Tells every Berth instance to drop cached authorizations: locally at once, and through Redis
 * pub/sub to the others when Redis is configured. Without Redis it is purely local.
 */
export function createCacheBus(
  redisUrl: string | undefined,
  apply: (message: string) => void,
  commandTimeoutMs = 300,
) {
  if (!redisUrl) {
    return {
      publish: (message: string) => apply(message),
      redis: undefined,
      ping: undefined,
      ready: async () => {},
      close: async () => {},
    };
  }
  // The publisher drops commands while Redis is down (a stale cache expires by its TTL anyway); the
  // subscriber queues its SUBSCRIBE until connected, and ioredis re-subscribes after reconnects.
  // A Redis that accepts the connection but never answers (frozen, black-holed) must not hang the
  // callers: every command gives up after commandTimeoutMs, which the limits treat as "Redis down".
  const redis = new Redis(redisUrl, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
  });
  const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null });
  // Errors are retried by ioredis; meanwhile limits fall back to memory and caches to their TTL.
  redis.on("error", () => {});
  subscriber.on("error", () => {});
  void subscriber.subscribe(CHANNEL).catch(() => {});
  subscriber.on("message", (_channel: string, message: string) => apply(message));
  return {
    redis,
    /** Rejects when Redis does not answer a PING within the command timeout (for /readyz). */
    ping: async () => {
      await redis.ping();
    },
    publish(message: string) {
      apply(message);
      void redis.publish(CHANNEL, message).catch(() => {});
    },
    /** Waits (up to timeoutMs) for Redis at start-up; Berth starts without it if it does not come. */
    ready(timeoutMs = 3_000): Promise<void> {
      if (redis.status === "ready") return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        redis.once("ready", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    async close() {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
