import { execFileSync } from "node:child_process";

/**
 * Builds dist/ (server and console) before any test file runs, when a source changed since the last
 * build: the e2e suites start Berth as `npm start` does, from the compiled build, the browser tests
 * drive the console Berth serves from dist/web, and two files compiling into dist/ at once would race
 * each other.
 */
export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build-if-stale.mjs"], { stdio: "inherit" });
  process.env.BERTH_DIST_BUILT = "1";
}
