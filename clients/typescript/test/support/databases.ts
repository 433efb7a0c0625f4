import mysql from "mysql2/promise";
import pg from "pg";

/** The local databases, reached directly (not through Berth) to check what Berth did. */
export async function pgQuery<T = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "test" });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export async function mysqlQuery<T = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", database: "test" });
  try {
    const [rows] = await c.query(sql, params);
    return rows as T[];
  } finally {
    await c.end();
  }
}

/** Statements carrying `/* marker *\/` that PostgreSQL is running right now (pg_stat_activity). */
export async function pgRunning(marker: string): Promise<number> {
  const rows = await pgQuery<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()",
    [`%/* ${marker} */%`],
  );
  return rows[0]!.n;
}

/** A table name no other test run uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}
