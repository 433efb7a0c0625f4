/**
 * A small service on Berth (PostgreSQL): it leases a session to record an order in a transaction,
 * and streams a large result for a report. Run it with
 *   BERTH_URL=http://127.0.0.1:9090 BERTH_TOKEN=berth_t_… BERTH_CONNECTION=<connection id> node service.js
 * It prints one JSON line with what it did.
 */
import { BerthError, createBerthClient } from "@berth/client";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`set ${name}`);
  return value;
};

const berth = createBerthClient({
  url: env("BERTH_URL"),
  token: env("BERTH_TOKEN"),
  // Every call has a deadline; Berth cancels the statement on the database when it passes.
  timeoutMs: 10_000,
});
const connection = env("BERTH_CONNECTION");
const table = env("ORDERS_TABLE", "example_orders");

interface Line {
  sku: string;
  quantity: number;
}

/** One session, one transaction: committed when the function returns, rolled back if it throws. */
async function placeOrder(customer: string, lines: Line[]): Promise<bigint> {
  return berth.session(connection, (s) =>
    s.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: bigint }>(
        `INSERT INTO ${table} (customer) VALUES ($1) RETURNING id`,
        [customer],
      );
      const id = rows[0]!.id;
      // Sent together (pipelined) and answered in order: one round trip for all the lines.
      await Promise.all(
        lines.map((l) =>
          tx.query(`INSERT INTO ${table}_lines (order_id, sku, quantity) VALUES ($1, $2, $3)`, [
            id,
            l.sku,
            l.quantity,
          ]),
        ),
      );
      if (lines.some((l) => l.quantity <= 0))
        throw new Error(`order of ${customer}: a quantity must be positive`);
      return id;
    }),
  );
}

/** A large result, read row by row: a slow reader holds Berth and the database back. */
async function report(rows: number): Promise<{ rows: number; sum: bigint }> {
  let count = 0;
  let sum = 0n;
  const result = berth.stream<{ n: bigint }>(
    connection,
    "SELECT g AS n FROM generate_series(1, $1::int) g",
    [rows],
    {
      intent: "read",
      timeoutMs: 60_000,
    },
  );
  for await (const row of result) {
    count++;
    sum += row.n;
  }
  return { rows: count, sum };
}

async function main(): Promise<void> {
  await berth.query(
    connection,
    `CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, customer text)`,
  );
  await berth.query(
    connection,
    `CREATE TABLE IF NOT EXISTS ${table}_lines (order_id bigint REFERENCES ${table}, sku text, quantity int)`,
  );
  const placed = await placeOrder("ada", [
    { sku: "anchor", quantity: 1 },
    { sku: "rope", quantity: 3 },
  ]);
  let refused = "";
  try {
    await placeOrder("bob", [{ sku: "sail", quantity: 0 }]);
  } catch (err) {
    refused = (err as Error).message;
  }
  let failed: Record<string, unknown> = {};
  try {
    await berth.query(connection, `SELECT * FROM ${table}_missing`);
  } catch (err) {
    // One error class: Berth's reason, the engine's code (SQLSTATE here), and the request id.
    if (!(err instanceof BerthError)) throw err;
    failed = { code: err.code, reason: err.reason, engineCode: err.engineCode };
  }
  const streamed = await report(Number(env("REPORT_ROWS", "200000")));
  console.log(
    JSON.stringify({
      placed: String(placed),
      refused,
      failed,
      streamed: { ...streamed, sum: String(streamed.sum) },
    }),
  );
  berth.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
