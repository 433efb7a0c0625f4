import type { Db } from "../store/store.js";

/**
 * A lease on a duty that must run on one instance at a time. Taken or renewed by one conditional
 * UPDATE (the same SQL on SQLite and PostgreSQL): it succeeds only for the holder, or for anyone once
 * the lease has expired, so two instances never both see it succeed. Times are ISO-8601 UTC text
 * (they compare as strings) from each instance's own clock: clocks must agree to well within the TTL.
 */
export async function takeLease(
  db: Db,
  name: string,
  holder: string,
  now: Date,
  ttlMs: number,
): Promise<boolean> {
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  // The row exists before anyone competes for it; the first insert wins, the others do nothing.
  await db
    .insertInto("duty_leases")
    .values({ name, holder, expires_at: expiresAt })
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const r = await db
    .updateTable("duty_leases")
    .set({ holder, expires_at: expiresAt })
    .where("name", "=", name)
    .where((eb) => eb.or([eb("holder", "=", holder), eb("expires_at", "<", now.toISOString())]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives up what `holder` holds (all its leases without `name`): another instance takes them at once. */
export async function releaseLeases(db: Db, holder: string, name?: string): Promise<void> {
  let q = db.deleteFrom("duty_leases").where("holder", "=", holder);
  if (name !== undefined) q = q.where("name", "=", name);
  await q.execute();
}

/** Unexpired leases: duty name → holder. */
export async function currentLeases(db: Db, now: Date): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom("duty_leases")
    .select(["name", "holder"])
    .where("expires_at", ">=", now.toISOString())
    .execute();
  return new Map(rows.map((r) => [r.name, r.holder]));
}

/**
 * Runs `fn` only if the lease is free (or already ours), then gives it up: for a one-off pass that
 * must not run on two instances at once. Undefined when another instance holds it.
 */
export async function runExclusive<T>(
  db: Db,
  name: string,
  holder: string,
  ttlMs: number,
  fn: () => Promise<T>,
): Promise<{ value: T } | undefined> {
  if (!(await takeLease(db, name, holder, new Date(), ttlMs))) return undefined;
  try {
    return { value: await fn() };
  } finally {
    await releaseLeases(db, holder, name).catch(() => {});
  }
}
