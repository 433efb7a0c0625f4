/**
 * How long POST /api/connections/{id}/test takes end to end (curl-like client → Berth → the real
 * database and back), against the RFC's target of < 500 ms, side by side with the driver's own
 * connect + probe query measured in the same run. Not a test: prints numbers and ratios.
 *
 *   npm run bench -- connection-test     (needs the local PostgreSQL and MariaDB)
 */
import mysql from "mysql2/promise";
import pg from "pg";
import { startTestBerth } from "../support/test-berth.js";
import { percentile } from "./stats.js";

const ROUNDS = Number(process.env.ROUNDS ?? 50);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const b = await startTestBerth({ BERTH_LOG_LEVEL: "warn" });
try {
  const engines = [
    {
      label: "PostgreSQL",
      spec: {
        name: "bench-pg",
        type: "postgresql",
        server: "127.0.0.1",
        port: 5432,
        database: "test",
        username: "postgres",
        password: "",
      },
      direct: async () => {
        const c = new pg.Client({ host: "127.0.0.1", port: 5432, database: "test", user: "postgres" });
        await c.connect();
        await c.query("select current_setting('server_version')");
        await c.end();
      },
    },
    {
      label: "MariaDB",
      spec: {
        name: "bench-maria",
        type: "mysql",
        server: "127.0.0.1",
        port: 3306,
        database: "test",
        username: "root",
        password: "",
      },
      direct: async () => {
        const c = await mysql.createConnection({
          host: "127.0.0.1",
          port: 3306,
          database: "test",
          user: "root",
        });
        await c.query("SELECT VERSION()");
        await c.end();
      },
    },
  ];
  console.log(`Test connection, ${ROUNDS} rounds each (ms)`);
  console.log("engine      | path                         |   p50 |   p95 |   max");
  for (const e of engines) {
    const { body } = await b.api("/api/connections", { body: e.spec });
    const berth: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      berth.push(
        await time(async () => {
          const r = await b.api(`/api/connections/${body.id}/test`, { body: {} });
          if (r.status !== 200) throw new Error(r.text);
        }),
      );
      direct.push(await time(e.direct));
    }
    const row = (path: string, xs: number[]) =>
      console.log(
        `${e.label.padEnd(11)} | ${path.padEnd(28)} | ${percentile(xs, 50).toFixed(1).padStart(5)} | ${percentile(xs, 95).toFixed(1).padStart(5)} | ${Math.max(
          ...xs,
        )
          .toFixed(1)
          .padStart(5)}`,
      );
    row("Berth REST test (5 stages)", berth);
    row("driver connect + query", direct);
    console.log(
      `${"".padEnd(11)} | ratio p50 Berth/direct: ${(percentile(berth, 50) / percentile(direct, 50)).toFixed(2)}×`,
    );
  }
} finally {
  await b.close();
}
