import pg from "pg";
import { LOCAL } from "./services.js";

/**
 * How many statements carrying `/* marker *\/` are running on the local PostgreSQL right now, as
 * the server itself sees them (pg_stat_activity): proof that a statement started, or was stopped.
 */
export async function runningWithMarker(marker: string): Promise<number> {
  const c = new pg.Client({
    host: "127.0.0.1",
    port: LOCAL.postgres.port,
    user: "postgres",
    database: "test",
  });
  await c.connect();
  try {
    const { rows } = await c.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()",
      [`%/* ${marker} */%`],
    );
    return rows[0].n as number;
  } finally {
    await c.end();
  }
}
