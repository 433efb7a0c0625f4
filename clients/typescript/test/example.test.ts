import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";
import { pgQuery, uniqueName } from "./support/databases.js";

/** The README's example service (examples/service.ts), run as its own process against a real Berth. */
let berth: RunningBerth;
const table = uniqueName("example_orders");

before(async () => {
  berth = await startBerth();
});

after(async () => {
  await pgQuery(`DROP TABLE IF EXISTS ${table}_lines, ${table}`);
  await berth?.dispose();
});

it("leases a session, commits one order, rolls back another, and streams a large report", {
  timeout: 60_000,
}, async () => {
  const pgId = await createConnection(berth, "postgresql");
  const token = await createServiceToken(berth, [pgId], "orders-service");
  const service = fileURLToPath(new URL("../examples/service.js", import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [service], {
    env: {
      ...process.env,
      BERTH_URL: berth.grpcUrl,
      BERTH_TOKEN: token,
      BERTH_CONNECTION: pgId,
      ORDERS_TABLE: table,
      REPORT_ROWS: "100000",
    },
    timeout: 50_000,
  });
  const out = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.match(out.refused, /quantity must be positive/);
  assert.deepEqual(out.failed, { code: "FAILED_PRECONDITION", reason: "query_failed", engineCode: "42P01" });
  assert.deepEqual(out.streamed, { rows: 100000, sum: String((100000n * 100001n) / 2n) });

  // Checked directly in the database: ada's order and its two lines, nothing of bob's.
  const orders = await pgQuery<{ id: string; customer: string }>(`SELECT id, customer FROM ${table}`);
  assert.deepEqual(
    orders.map((o) => o.customer),
    ["ada"],
  );
  assert.equal(orders[0]!.id, out.placed);
  const lines = await pgQuery<{ sku: string }>(`SELECT sku FROM ${table}_lines ORDER BY sku`);
  assert.deepEqual(
    lines.map((l) => l.sku),
    ["anchor", "rope"],
  );
});
