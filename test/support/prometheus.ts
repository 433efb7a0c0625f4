import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Debian's promtool (the prometheus package); CI installs it (.ci/run). */
export const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));

/** Runs promtool with `args`, `stdin` piped in; its exit code and combined output. */
export function promtool(args: string[], stdin = ""): Promise<{ code: number; output: string }> {
  if (!PROMTOOL) throw new Error("promtool is not installed");
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(stdin);
  });
}

/** Whether promtool answers at all (it is present and runs). */
export function promtoolRuns(): boolean {
  return PROMTOOL !== undefined && spawnSync(PROMTOOL, ["--version"]).status === 0;
}

/**
 * The samples of a text exposition, keyed `name{a="x",b="y"}` with labels in the order given
 * (prom-client writes them in declaration order). Comments and blank lines are skipped.
 */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The sum of every sample of `name` whose labels include all of `match`. */
export function sumOf(all: Map<string, number>, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of all) {
    const brace = key.indexOf("{");
    const n = brace < 0 ? key : key.slice(0, brace);
    if (n !== name) continue;
    const has = ([k, v]: [string, string]) => key.includes(`{${k}="${v}"`) || key.includes(`,${k}="${v}"`);
    if (Object.entries(match).every(has)) total += value;
  }
  return total;
}
