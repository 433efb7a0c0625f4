/**
 * `attempt`, or what `onTimeout` answers (or throws) if `attempt` has not settled within `ms`. The
 * timer never outlives the race; a late settlement of `attempt` is left to the caller (the race has
 * handled its rejection).
 */
export async function within<T, U>(attempt: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
