import { execFileSync } from "node:child_process";

/**
 * Builds dist/ (server and console) once before any test file runs: the e2e suites start Berth as `npm start` does, from
 * the compiled build, and two files compiling into dist/ at once would race each other.
 */
export default function setup(): void {
  execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.build.json"], { stdio: "inherit" });
  // The web console too: Berth serves it from dist/web, and the browser tests drive it.
  execFileSync(
    "node_modules/.bin/vite",
    ["build", "--config", "clients/web/vite.config.ts", "--logLevel", "warn"],
    {
      stdio: "inherit",
    },
  );
  process.env.BERTH_DIST_BUILT = "1";
}
