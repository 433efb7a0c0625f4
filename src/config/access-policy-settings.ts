import { z } from "zod";
import type { ParsedVariables } from "./parsed-variables.js";
import { DEFAULT_DENIED_TARGETS, parseTargetList, type TargetRules } from "./target-rules.js";

/**
 * What Berth refuses: connections that allow plain text, targets outside the allowed and denied
 * lists, and callers past the RFC's rate limits.
 */
export const accessPolicyVariables = {
  BERTH_REQUIRE_TLS: z.enum(["true", "false"]).default("false"),
  BERTH_ALLOWED_TARGETS: z.string().optional(),
  BERTH_DENIED_TARGETS: z.string().default(""),
  BERTH_RATE_LIMITS: z.enum(["rfc", "off"]).default("rfc"),
};

type AccessPolicyVariables = ParsedVariables<typeof accessPolicyVariables>;

/** The target lists' problems: the schema only knows they are strings. */
export function targetProblems(c: AccessPolicyVariables): string[] {
  const problems: string[] = [];
  for (const name of ["BERTH_ALLOWED_TARGETS", "BERTH_DENIED_TARGETS"] as const)
    for (const p of parseTargetList(c[name] ?? "").problems) problems.push(`${name}: ${p}`);
  if (c.BERTH_ALLOWED_TARGETS !== undefined && parseTargetList(c.BERTH_ALLOWED_TARGETS).rules.length === 0)
    problems.push(
      "BERTH_ALLOWED_TARGETS: lists no target (it would allow none); leave it unset to allow any",
    );
  return problems;
}

export function targetSettings(c: AccessPolicyVariables): TargetRules {
  return Object.freeze({
    // Unset: any target not denied. Set: only what it lists (an empty list is refused by targetProblems).
    allowed:
      c.BERTH_ALLOWED_TARGETS === undefined ? undefined : parseTargetList(c.BERTH_ALLOWED_TARGETS).rules,
    denied: parseTargetList(c.BERTH_DENIED_TARGETS).rules,
    defaultDenied: parseTargetList(DEFAULT_DENIED_TARGETS.join(",")).rules,
  });
}
