#!/usr/bin/env node
/**
 * Builds dist/ (server and console) only when it is missing or older than its sources, so that
 * `npm start` after an unchanged tree starts in about a second instead of rebuilding (~8 s).
 * Run by `prepare` (so `npm ci` builds once), `prestart` and the tests' global setup.
 *
 * The stamp dist/.build-stamp carries the time the last successful build STARTED: a file saved
 * while that build ran is newer than the stamp and triggers the next one.
 *
 *   node scripts/build-if-stale.mjs          build if stale
 *   node scripts/build-if-stale.mjs --check  exit 1 if stale, 0 if fresh (builds nothing)
 *   node scripts/build-if-stale.mjs --force  build whatever the stamp says (`npm run build`)
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const STAMP = join(root, "dist", ".build-stamp");
// What the build reads: sources, protos, compiler and bundler settings, the dependency versions.
const INPUTS = [
  "src",
  "clients/web",
  "proto",
  "tsconfig.json",
  "tsconfig.build.json",
  "package.json",
  "package-lock.json",
];
// What the build writes: without them dist/ is not a build, whatever the stamp says.
const OUTPUTS = ["dist/main.js", "dist/cli.js", "dist/web/index.html"];

/** The newest modification time under `path` (a file or a directory tree), or 0 when absent. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules") continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

function stale() {
  if (!existsSync(STAMP) || OUTPUTS.some((f) => !existsSync(join(root, f)))) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((p) => newest(join(root, p)) > built);
}

// Installed without its sources (the Docker image's dependency layer): nothing to build yet.
if (!existsSync(join(root, "src"))) {
  console.log("build-if-stale: no sources here yet; nothing to build");
  process.exit(0);
}
const isStale = stale();
if (process.argv.includes("--check")) process.exit(isStale ? 1 : 0);
if (!isStale && !process.argv.includes("--force")) process.exit(0);

const started = new Date();
const bin = (name) => join(root, "node_modules", ".bin", name);
execFileSync(bin("tsc"), ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
execFileSync(bin("vite"), ["build", "--config", "clients/web/vite.config.ts", "--logLevel", "warn"], {
  cwd: root,
  stdio: "inherit",
});
writeFileSync(STAMP, `${started.toISOString()}\n`);
utimesSync(STAMP, started, started);
