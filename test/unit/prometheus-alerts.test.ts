import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROMTOOL, promtool } from "../support/prometheus.js";

const RULES = "docs/prometheus-alerts.yml";
const TESTS = "docs/prometheus-alerts.test.yml";
// A run without promtool says so in the skipped tests' names rather than passing in silence.
const NEEDS = PROMTOOL ? "" : " [skipped: promtool is not installed; apt-get install prometheus]";

/** The alert names of the rules file. */
async function alertNames(): Promise<string[]> {
  return [...(await readFile(RULES, "utf8")).matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]!);
}

/** The alerts some test case expects to fire (a case with a non-empty exp_alerts list). */
async function firingTested(): Promise<Set<string>> {
  const cases = (await readFile(TESTS, "utf8")).split(/^\s*- eval_time:/m).slice(1);
  const fired = new Set<string>();
  for (const c of cases) {
    const name = /alertname: (\w+)/.exec(c)?.[1];
    if (name && /exp_alerts:\s*\n\s*- exp_labels:/.test(c)) fired.add(name);
  }
  return fired;
}

describe("the alert rules (RFC §6.2)", () => {
  it("cover the RFC's five kinds of alert, each rule with a runbook in the README", async () => {
    const names = await alertNames();
    expect(names.length).toBeGreaterThanOrEqual(15);
    const readme = await readFile("README.md", "utf8");
    const rules = await readFile(RULES, "utf8");
    for (const runbook of new Set([...rules.matchAll(/runbook: ([\w-]+)/g)].map((m) => m[1]!)))
      expect(readme, `README runbook entry for ${runbook}`).toContain(`runbook: ${runbook}`);
    for (const group of ["connections", "pools", "security", "performance", "system"])
      expect(rules).toContain(`name: berth-${group}`);
  });

  it("have a firing test for every alert", async () => {
    const fired = await firingTested();
    expect((await alertNames()).filter((n) => !fired.has(n))).toEqual([]);
  });

  it.skipIf(!PROMTOOL)(`pass promtool check rules${NEEDS}`, async () => {
    const r = await promtool(["check", "rules", RULES]);
    expect(r.output).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it.skipIf(!PROMTOOL)(`pass promtool test rules${NEEDS}`, async () => {
    const r = await promtool(["test", "rules", TESTS]);
    expect(r.output).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it.skipIf(!PROMTOOL)(
    `fail promtool test rules when a rule is broken (the tests can fail)${NEEDS}`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "berth-alerts-"));
      try {
        // A threshold no test input reaches: the firing test of BerthReplicaLagging must fail.
        const rules = (await readFile(RULES, "utf8")).replace(
          "berth_replica_lag_seconds > 30",
          "berth_replica_lag_seconds > 300",
        );
        await writeFile(join(dir, "prometheus-alerts.yml"), rules);
        await copyFile(TESTS, join(dir, "prometheus-alerts.test.yml"));
        const r = await promtool(["test", "rules", join(dir, "prometheus-alerts.test.yml")]);
        expect(r.code).not.toBe(0);
        expect(r.output).toContain("BerthReplicaLagging");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
