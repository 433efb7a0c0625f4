/**
 * The one-shot Execute alone, with Berth under `--cpu-prof`: the latency loop of the broker bench
 * (SELECT 1 at concurrency 1) beside the direct driver, then a CPU profile of Berth written to
 * PROFILE_DIR (default /tmp/berth-profile) for `node --cpu-prof` tools or Chrome's DevTools.
 *   npm run bench -- execute-profile
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { BrokerService, type ExecuteResponse } from "../../src/gen/berth/v1/broker_service_pb.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { startBerthProcess } from "./berth-process.js";
import { percentile } from "./stats.js";

const ITERATIONS = Number(process.env.ITERATIONS ?? 3000);
const PROFILE_DIR = process.env.PROFILE_DIR ?? "/tmp/berth-profile";
const PG = { host: "127.0.0.1", port: 5432, database: "test", user: "postgres" };

const PROFILE = process.env.PROFILE !== "0";
const berth = await startBerthProcess(
  { BERTH_HEALTH_INTERVAL_MS: "2000" },
  PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
);

/** CPU seconds (user + system) Berth has used: per call, steadier than latency on a busy machine. */
function berthCpuSeconds(): number {
  const fields = readFileSync(`/proc/${berth.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const md = { authorization: `Bearer ${berth.token}` };
const id = (
  await berth.api("/api/connections", {
    name: "profile-pg",
    type: "postgresql",
    server: PG.host,
    port: PG.port,
    database: PG.database,
    username: PG.user,
    password: "",
    maxPoolSize: 10,
  })
).id as string;
const broker = grpcJsClient(BrokerService, berth.grpcAddress);
const direct = new pg.Pool({ ...PG, max: 10 });

const oneShot = () =>
  new Promise<void>((resolve, reject) => {
    const s = broker.serverStream(
      "execute",
      { target: { case: "connectionId", value: id }, statement: { sql: "SELECT 1", params: [] } },
      md,
    );
    s.on("data", (_r: ExecuteResponse) => {});
    s.on("end", resolve);
    s.on("error", reject);
  });

async function latency(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 300; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return xs;
}

try {
  const d = await latency(() => direct.query("SELECT 1"));
  // STRACE=<file>: Berth's system calls during the loop, counted (strace -c): steady under load.
  const strace = process.env.STRACE
    ? spawn("strace", ["-f", "-c", "-o", process.env.STRACE, "-p", String(berth.pid)], { stdio: "ignore" })
    : undefined;
  if (strace) await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = berthCpuSeconds();
  const o = await latency(oneShot);
  if (strace) {
    const done = new Promise((r) => strace.once("exit", r));
    strace.kill("SIGINT");
    await done;
  }
  const cpuPerCall = ((berthCpuSeconds() - cpu0) * 1000) / (ITERATIONS + 300);
  const [dp50, op50] = [percentile(d, 50), percentile(o, 50)];
  console.log(`Berth CPU per one-shot call: ${cpuPerCall.toFixed(3)} ms`);
  console.log(
    `direct pg.Pool p50 ${dp50.toFixed(3)} ms; one-shot Execute p50 ${op50.toFixed(3)} ms p99 ${percentile(o, 99).toFixed(3)} ms (${(op50 / dp50).toFixed(2)}×)`,
  );
  if (PROFILE) console.log(`Berth CPU profile: ${PROFILE_DIR}`);
} finally {
  broker.close();
  await direct.end();
  await berth.stop();
}
