import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { CheckOutcome, type CheckResult, CheckStage } from "../gen/berth/v1/types_pb.js";

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
const lower = (s: string | undefined) => (s ? s.toLowerCase() : "");

/**
 * A check result in the RFC's REST shape. Here, below the server, because the error mapping puts a
 * failed check's stages into the error envelope too.
 */
export function checkResultToJson(r: CheckResult) {
  return {
    ok: r.ok,
    target: r.target,
    serverVersion: r.serverVersion || null,
    totalMs: r.totalMs,
    checkedAt: iso(r.checkedAt),
    stages: r.stages.map((s) => ({
      stage: lower(CheckStage[s.stage]),
      outcome: lower(CheckOutcome[s.outcome]),
      durationMs: s.durationMs,
      ...(s.reason ? { reason: s.reason } : {}),
      ...(s.errorCode ? { errorCode: s.errorCode } : {}),
      ...(s.message ? { message: s.message } : {}),
      ...(s.remedy ? { remedy: s.remedy } : {}),
      ...(Object.keys(s.details).length > 0 ? { details: s.details } : {}),
    })),
  };
}
