/**
 * Shared mode, one instance against three, on this machine. Not a test: prints calls/s, asserts
 * nothing.   npm run bench -- shared
 *
 * Each configuration is whole Berth processes on a fresh PostgreSQL store database and the local
 * Redis (the connection budget shared through it), with the same callers spread round-robin over
 * the instances: Execute `select 1` over each instance's grpc-js port (the data plane), and
 * GET /api/connections/:id (the control plane: authentication, authorization, a store read and
 * a decryption). Needs the local PostgreSQL and Redis.
 */
import { loadavg } from "node:os";
import { BrokerService } from "../../src/gen/berth/v1/broker_service_pb.js";
import { startBerthCluster } from "../support/berth-cluster.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { LOCAL } from "../support/services.js";
import { startBerthProcess } from "./berth-process.js";
import { percentile } from "./stats.js";

const SECONDS = Number(process.env.THROUGHPUT_SECONDS ?? 5);
const CALLERS = Number(process.env.CALLERS ?? 48);

type Client = ReturnType<typeof grpcJsClient>;

function execute(client: Client, connectionId: string, md: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = client.serverStream(
      "execute",
      { target: { case: "connectionId", value: connectionId }, statement: { sql: "select 1", params: [] } },
      md,
    );
    s.on("data", () => {});
    s.on("end", () => resolve());
    s.on("error", reject);
  });
}

/** Calls/s, errors and p50/p99 latency of `CALLERS` callers running `call(i)` for SECONDS. */
async function measure(call: (caller: number) => Promise<void>) {
  // Warm up: pools open, caches filled, JIT done.
  await Promise.all(Array.from({ length: CALLERS }, (_, i) => call(i).catch(() => {})));
  let errors = 0;
  const why = new Map<string, number>();
  const ms: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, i) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await call(i);
          ms.push(performance.now() - t0);
        } catch (err) {
          errors++;
          const m = String((err as Error).message).slice(0, 160);
          why.set(m, (why.get(m) ?? 0) + 1);
        }
      }
    }),
  );
  for (const [m, n] of why) console.log(`    ${n} × ${m}`);
  return { perSecond: ms.length / SECONDS, errors, p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

/** `instances` in shared mode, or 0: one embedded Berth (SQLite, no Redis) as the reference. */
async function run(instances: number) {
  const cluster =
    instances === 0
      ? await startBerthProcess({ BERTH_LOG_LEVEL: "error" }).then((m) => ({ members: [m], stop: m.stop }))
      : await startBerthCluster(instances, { BERTH_LOG_LEVEL: "error" });
  const spread = Math.max(1, instances);
  try {
    const members = cluster.members;
    const admin = members[0]!;
    const { id } = (await admin.api("/api/connections", {
      name: "bench-shared",
      type: "postgresql",
      server: LOCAL.postgres.host,
      port: LOCAL.postgres.port,
      database: LOCAL.postgres.database,
      username: LOCAL.postgres.user,
      password: "",
      sslMode: "disable",
      maxPoolSize: 24,
    })) as { id: string };
    const md = { authorization: `Bearer ${admin.token}` };
    const clients = members.map((m) => grpcJsClient(BrokerService, m.grpcAddress));
    const data = await measure((i) => execute(clients[i % spread]!, id, md));
    const control = await measure(async (i) => {
      const r = await fetch(`${members[i % spread]!.url}/api/connections/${id}`, { headers: md });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(String(r.status));
    });
    for (const c of clients) c.close();
    return { data, control };
  } finally {
    await cluster.stop();
  }
}

function row(label: string, r: Awaited<ReturnType<typeof measure>>) {
  console.log(
    `  ${label.padEnd(46)} ${r.perSecond.toFixed(0).padStart(8)} calls/s   p50 ${r.p50.toFixed(1).padStart(6)} ms   p99 ${r.p99.toFixed(1).padStart(7)} ms   errors ${r.errors}`,
  );
}

console.log(
  `${CALLERS} callers, ${SECONDS} s each, this machine (load average ${loadavg()[0]!.toFixed(1)}):`,
);
for (const n of [0, 1, 3]) {
  const r = await run(n);
  const label = n === 0 ? "embedded (SQLite)" : `shared, ${n} instance${n > 1 ? "s" : ""}`;
  row(`${label}: Execute select 1`, r.data);
  row(`${label}: GET /api/connections/:id`, r.control);
}
