import { ConnectError } from "@connectrpc/connect";
import { CheckFailureSchema } from "../../../src/gen/berth/v1/errors_pb.js";
import type { CheckResult } from "../../../src/gen/berth/v1/types_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../../src/gen/google/rpc/error_details_pb.js";

export interface Problem {
  message: string;
  /** Stable reason (ErrorInfo.reason, or its metadata's reason). */
  reason: string;
  /** Field → why, from google.rpc.BadRequest: shown next to the field. */
  fields: Record<string, string>;
  /** A failed connection check: every stage, not only the failing one. */
  check?: CheckResult;
}

export function problemOf(err: unknown): Problem {
  const e = ConnectError.from(err);
  const info = e.findDetails(ErrorInfoSchema)[0];
  const fields: Record<string, string> = {};
  for (const v of e.findDetails(BadRequestSchema)[0]?.fieldViolations ?? []) fields[v.field] = v.description;
  const check = e.findDetails(CheckFailureSchema)[0]?.result;
  return {
    message: e.rawMessage,
    reason: info?.metadata.reason ?? info?.reason ?? "",
    fields,
    ...(check ? { check } : {}),
  };
}
