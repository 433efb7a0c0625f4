import type { Waiter } from "./pool-types.js";

/**
 * Takes a caller out of the queue when its timer answers first. A linear search: the queue is
 * short, and only a caller that waited out its timeout pays it (a hand-over shifts the head).
 */
export function withdraw(waiters: Waiter[], waiter: Waiter): void {
  const at = waiters.indexOf(waiter);
  if (at >= 0) waiters.splice(at, 1);
}
