import { ENGINES } from "../engines/index.js";
import { CheckOutcome, type CheckResult, CheckStage } from "../gen/berth/v1/types_pb.js";
import type { ObservedCheck } from "../observability/request-metrics.js";

/**
 * A check result as the metrics take it: stage and outcome names in lower case, seconds. The engine
 * of an unsaved configuration is the caller's text: anything not an engine Berth knows is "other",
 * so that a label cannot grow without bound.
 */
export function checkObservation(
  kind: "test" | "validate",
  engine: string,
  result: CheckResult,
): ObservedCheck {
  return {
    kind,
    engine: Object.hasOwn(ENGINES, engine) ? engine : "other",
    ok: result.ok,
    stages: result.stages.map((s) => ({
      stage: (CheckStage[s.stage] ?? "unspecified").toLowerCase(),
      outcome: (CheckOutcome[s.outcome] ?? "unspecified").toLowerCase(),
      seconds: s.durationMs / 1000,
      reason: s.reason,
    })),
  };
}
