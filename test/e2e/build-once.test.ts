import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync, utimesSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * `npm start` used to rebuild everything first (about 8 s of a 12 s start). Now `npm ci` builds once
 * (`prepare`) and `prestart` rebuilds only when a source is newer than the last build. The global
 * setup has just built through the same script, so the tree is fresh here.
 */
const check = () => spawnSync(process.execPath, ["scripts/build-if-stale.mjs", "--check"]).status;

describe("building once", () => {
  it("install builds and start rebuilds only when stale", () => {
    const scripts = JSON.parse(readFileSync("package.json", "utf8")).scripts as Record<string, string>;
    expect(scripts.prepare).toBe("node scripts/build-if-stale.mjs");
    expect(scripts.prestart).toBe("node scripts/build-if-stale.mjs");
    expect(scripts.prestart).not.toMatch(/npm run build|tsc|vite/);
  });

  it("a fresh build is left alone; a source saved after it makes it stale", () => {
    expect(check()).toBe(0);
    const file = "src/main.ts";
    const { atime, mtime } = statSync(file);
    try {
      const later = new Date(Date.now() + 60_000);
      utimesSync(file, later, later);
      expect(check()).toBe(1);
    } finally {
      utimesSync(file, atime, mtime);
    }
    expect(check()).toBe(0);
  });

  it("on an unchanged tree the start's build step writes nothing", () => {
    const before = ["dist/main.js", "dist/web/index.html", "dist/.build-stamp"].map(
      (f) => statSync(f).mtimeMs,
    );
    execFileSync(process.execPath, ["scripts/build-if-stale.mjs"]);
    const after = ["dist/main.js", "dist/web/index.html", "dist/.build-stamp"].map(
      (f) => statSync(f).mtimeMs,
    );
    expect(after).toEqual(before);
  });
});
