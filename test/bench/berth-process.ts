import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/throwaway-postgres.js";

export const BENCH_ADMIN_PASSWORD = "bench-admin-password";

/** Berth as its own process (built first), so that client, broker and database are three processes. */
export async function startBerthProcess(
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  /** Another build's entry point (a baseline to compare with); the worktree's dist/ by default. */
  main = "dist/main.js",
) {
  // Tests build in their global setup; a benchmark run builds here, when a source changed.
  if (process.env.BERTH_DIST_BUILT !== "1") {
    execFileSync(process.execPath, ["scripts/build-if-stale.mjs"], { stdio: "inherit" });
  }
  const dataDir = await mkdtemp(join(tmpdir(), "berth-bench-"));
  const [port, grpcPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, main], {
    env: {
      ...process.env,
      BERTH_PORT: String(port),
      BERTH_GRPC_PORT: String(grpcPort),
      BERTH_DATA_DIR: dataDir,
      BERTH_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
      // Per-request log lines would measure the terminal, not the broker.
      BERTH_LOG_LEVEL: "warn",
      // The RFC's per-user limits (10 connection creations an hour, ...) would refuse the bench's
      // own set-up long before it measures anything.
      BERTH_RATE_LIMITS: "off",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  // Once, whether Berth exited on its own (a failed start) or is still running.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      // A graceful shutdown that hangs must not hang the bench's own exit.
      const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(force);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error("berth did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const api = async (path: string, body?: unknown, token?: string) => {
    const res = await fetch(url + path, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json;
  };
  let token: string;
  try {
    token = (await api("/api/auth/login", { username: "admin", password: BENCH_ADMIN_PASSWORD }))
      .token as string;
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid!,
    url,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    token,
    api: (path: string, body?: unknown) => api(path, body, token),
    /** Resident memory of the Berth process, in MiB. */
    rssMiB(): number {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : Number.NaN;
    },
    /** CPU seconds (user + system) the Berth process has used. */
    cpuSeconds(): number {
      const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop,
  };
}
