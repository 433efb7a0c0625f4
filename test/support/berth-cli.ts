import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const CLI = join(import.meta.dirname, "../../dist/cli.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `berth <args>` (the built CLI) against a running Berth. */
export function startCli(
  args: string[],
  env: { url: string; token: string },
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, BERTH_URL: env.url, BERTH_TOKEN: env.token },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

export function runCli(args: string[], env: { url: string; token: string }): Promise<CliRun> {
  return startCli(args, env).done;
}
