import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

/** Every BERTH_* variable the configuration schema reads, from each area's `*Variables` export. */
async function schemaVariables(): Promise<string[]> {
  const dir = join(ROOT, "src/config");
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const module = (await import(join(dir, file))) as Record<string, unknown>;
    for (const [exported, value] of Object.entries(module))
      if (exported.endsWith("Variables") && value && typeof value === "object")
        for (const key of Object.keys(value)) if (key.startsWith("BERTH_")) names.add(key);
  }
  return [...names].sort();
}

/** The variables the README's configuration tables name in a row's first cell. */
function documentedVariables(): Set<string> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const names = new Set<string>();
  for (const line of readme.split("\n")) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1] ?? "";
    for (const m of first.matchAll(/`(BERTH_[A-Z0-9_]+)`/g)) names.add(m[1]!);
  }
  return names;
}

describe("the README documents every variable", () => {
  it("has a table row for each variable the configuration reads", async () => {
    const variables = await schemaVariables();
    // The schema is read from its area modules: a broken discovery must not pass as "all documented".
    expect(variables.length).toBeGreaterThan(60);
    expect(variables).toContain("BERTH_PORT");
    const documented = documentedVariables();
    expect(variables.filter((v) => !documented.has(v))).toEqual([]);
  });
});
