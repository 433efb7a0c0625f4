import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createBerthClient } from "@berth/client";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";
import { pgRunning } from "./support/databases.js";
import { until } from "./support/waits.js";

/**
 * A 1,000,000-row result (~110 MB of row data) read by a slow reader: the reader pauses, and the
 * statement is still running on PostgreSQL afterwards (the database was held back, nothing
 * buffered the rest); Berth's resident memory and the client's heap stay flat throughout.
 */
const ROWS = 1_000_000;
const MiB = 1024 * 1024;
// Memory that is still referenced, not garbage waiting for the collector: collect before sampling.
setFlagsFromString("--expose_gc");
const gc = runInNewContext("gc") as () => void;
let berth: RunningBerth;
let pgId: string;
let token: string;

before(async () => {
  // A heap far smaller than the result: a Berth that buffered it instead of holding back would die.
  berth = await startBerth({ nodeArgs: ["--max-old-space-size=64"] });
  pgId = await createConnection(berth, "postgresql");
  token = await createServiceToken(berth, [pgId]);
});

after(async () => berth?.dispose());

it("streams 1,000,000 rows to a slow reader with flat memory on both ends", {
  timeout: 120_000,
}, async () => {
  const client = createBerthClient({ url: berth.grpcUrl, token, timeoutMs: 110_000 });
  // Warm both processes up (connections, pools, JIT) before taking the baselines.
  await client.query(pgId, "SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g");
  gc();
  const berthBase = berth.rssMiB();
  const clientBase = process.memoryUsage();
  let heapPeak = clientBase.heapUsed;
  // Resident memory settles while a heap grows to its working size (the collector runs when it
  // likes); what must not happen is a rise that goes on: the second half's peak is the first's.
  const berthPeaks = [0, 0];
  const rssPeaks = [0, 0];
  const sample = (half: number) => {
    berthPeaks[half] = Math.max(berthPeaks[half]!, berth.rssMiB());
    const m = process.memoryUsage();
    heapPeak = Math.max(heapPeak, m.heapUsed);
    rssPeaks[half] = Math.max(rssPeaks[half]!, m.rss / MiB);
  };

  const marker = `sdk_stream_${process.pid}`;
  const rows = client.stream<{ g: bigint; pad: string }>(
    pgId,
    `SELECT g, repeat('x', 100) AS pad FROM generate_series(1, ${ROWS}) g /* ${marker} */`,
  );
  let expected = 1n;
  let bytes = 0;
  let paused = false;
  const started = Date.now();
  for await (const row of rows) {
    assert.equal(row.g, expected++);
    bytes += row.pad.length;
    // A slow reader: it gives way for a millisecond every 2,000 rows.
    if (row.g % 2_000n === 0n) await sleep(1);
    if (row.g % 100_000n === 0n) {
      gc();
      sample(row.g <= BigInt(ROWS / 2) ? 0 : 1);
    }
    if (!paused && row.g === 100_000n) {
      paused = true;
      const before = berth.rssMiB();
      await sleep(1_500);
      // Held back, not finished: PostgreSQL is still running the statement, waiting on its socket.
      assert.equal(await pgRunning(marker), 1, "the statement is still running while the reader pauses");
      assert.ok(berth.rssMiB() - before < 20, "Berth does not buffer for a paused reader");
    }
  }
  const seconds = (Date.now() - started) / 1000;
  assert.equal(expected - 1n, BigInt(ROWS));
  assert.equal(bytes, ROWS * 100);
  assert.equal(rows.completion?.rowsReturned, ROWS);
  await until("the statement is over on PostgreSQL", async () => (await pgRunning(marker)) === 0);
  const berthGrowth = Math.max(...berthPeaks) - berthBase;
  const berthRise = berthPeaks[1]! - berthPeaks[0]!;
  const heapGrowth = (heapPeak - clientBase.heapUsed) / MiB;
  const rssGrowth = rssPeaks[1]! - rssPeaks[0]!;
  console.log(
    `1,000,000 rows in ${seconds.toFixed(1)} s; Berth RSS ${berthBase.toFixed(0)} → peak ${berthPeaks[0]!.toFixed(0)} ` +
      `(first half), ${berthPeaks[1]!.toFixed(0)} MiB (second half); ` +
      `client live heap +${heapGrowth.toFixed(1)} MiB, RSS ${(clientBase.rss / MiB).toFixed(0)} → ` +
      `peak ${rssPeaks[0]!.toFixed(0)} (first half), ${rssPeaks[1]!.toFixed(0)} MiB (second half)`,
  );
  // ~110 MB of row data went through each process; neither kept any of it.
  assert.ok(berthGrowth < 100, `Berth grew by ${berthGrowth.toFixed(1)} MiB`);
  assert.ok(berthRise < 24, `Berth's RSS rose by ${berthRise.toFixed(1)} MiB in the second half`);
  assert.ok(heapGrowth < 16, `the client's live heap grew by ${heapGrowth.toFixed(1)} MiB`);
  assert.ok(rssGrowth < 24, `the client's RSS rose by ${rssGrowth.toFixed(1)} MiB in the second half`);
  client.close();
});
