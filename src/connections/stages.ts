import { performance } from "node:perf_hooks";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { DriverFailure } from "../drivers/driver.js";
import { StageTimeoutError } from "../drivers/failures.js";
import {
  CheckOutcome,
  type CheckResult,
  CheckResultSchema,
  CheckStage,
  type StageResult,
} from "../gen/berth/v1/types_pb.js";
import { inChildSpan } from "../observability/tracing.js";
import { remedyFor } from "./remedies.js";

/** A stage that failed, already in Berth's vocabulary. */
export class StageFailure extends Error {
  constructor(readonly failure: DriverFailure) {
    super(failure.message);
  }
}

export interface StageOutput {
  details?: Record<string, string>;
  /** The stage does not apply (TLS disabled); the reason is shown. */
  skipped?: string;
}

export type StageRun = (signal: AbortSignal) => Promise<StageOutput>;

/**
 * Runs stages in order under one deadline. Each stage gets what remains of it; the first failure
 * stops the run and the rest are reported as skipped. Nothing here ever sees a secret's value
 * except the driver's connect, and failures carry only the driver's message.
 */
export function runStages(
  target: string,
  stages: readonly [CheckStage, StageRun][],
  timeoutMs: number,
  describe: (err: unknown) => DriverFailure,
): Promise<CheckResult> {
  // A span for the check, and one per stage inside it (when the call is traced).
  return inChildSpan("berth.connection.check", {}, async (span) => {
    const result = await runStagesTimed(target, stages, timeoutMs, describe);
    span?.setAttribute("berth.check.ok", result.ok);
    return result;
  });
}

async function runStagesTimed(
  target: string,
  stages: readonly [CheckStage, StageRun][],
  timeoutMs: number,
  describe: (err: unknown) => DriverFailure,
): Promise<CheckResult> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  const results: StageResult[] = [];
  let failedAt: CheckStage | undefined;
  for (const [stage, run] of stages) {
    if (failedAt !== undefined) {
      results.push(
        stageResult(stage, CheckOutcome.SKIPPED, 0, {
          message: `Not run: the ${stageLabel(failedAt)} stage failed`,
        }),
      );
      continue;
    }
    const t0 = performance.now();
    try {
      const label = stageLabel(stage);
      const out = await inChildSpan(`berth.check.${label}`, { "berth.check.stage": label }, async (span) => {
        const o = await withDeadline(run, deadline - t0, `The ${label} stage`);
        if (o.skipped) span?.setAttribute("berth.check.skipped", true);
        return o;
      });
      const ms = performance.now() - t0;
      results.push(
        out.skipped
          ? stageResult(stage, CheckOutcome.SKIPPED, ms, { message: out.skipped, details: out.details })
          : stageResult(stage, CheckOutcome.PASSED, ms, { details: out.details }),
      );
    } catch (err) {
      const f =
        err instanceof StageFailure
          ? err.failure
          : err instanceof StageTimeoutError
            ? timeoutFailure(err)
            : describe(err);
      failedAt = stage;
      results.push(
        stageResult(stage, CheckOutcome.FAILED, performance.now() - t0, {
          reason: f.reason,
          errorCode: f.code,
          message: f.message,
          remedy: remedyFor(f.reason),
        }),
      );
    }
  }
  return create(CheckResultSchema, {
    ok: failedAt === undefined,
    stages: results,
    totalMs: round(performance.now() - started),
    checkedAt: timestampNow(),
    target,
  });
}

function timeoutFailure(err: StageTimeoutError): DriverFailure {
  return { reason: "timeout", code: "ETIMEDOUT", message: err.message };
}

function stageResult(
  stage: CheckStage,
  outcome: CheckOutcome,
  ms: number,
  extra: Partial<Pick<StageResult, "reason" | "errorCode" | "message" | "remedy">> & {
    details?: Record<string, string> | undefined;
  },
): StageResult {
  return {
    $typeName: "berth.v1.StageResult",
    stage,
    outcome,
    durationMs: round(ms),
    reason: extra.reason ?? "",
    errorCode: extra.errorCode ?? "",
    message: extra.message ?? "",
    remedy: extra.remedy ?? "",
    details: extra.details ?? {},
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function stageLabel(stage: CheckStage): string {
  return CheckStage[stage].toLowerCase();
}

async function withDeadline(run: StageRun, remainingMs: number, what: string): Promise<StageOutput> {
  const budget = Math.max(0, Math.floor(remainingMs));
  if (budget <= 0) throw new StageTimeoutError(what, 0);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new StageTimeoutError(what, budget));
    }, budget);
  });
  try {
    return await Promise.race([run(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
