import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ValidationError } from "../../errors/berth-error.js";
import { ConnectionStatus } from "../../gen/berth/v1/types_pb.js";
import type { Parsed } from "./route.js";

/** A non-negative integer query parameter (0 when absent). */
export function intParam(q: URLSearchParams, name: string): number {
  const v = q.get(name);
  if (v === null || v === "") return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw ValidationError.field(name, "must be a non-negative integer");
  return n;
}

export function timestampParam(q: URLSearchParams, name: string) {
  const d = new Date(q.get(name) ?? "");
  if (Number.isNaN(d.getTime())) throw ValidationError.field(name, "must be an ISO-8601 time");
  return timestampFromDate(d);
}

/** A check's `timeoutMs` body field: whole milliseconds, 0 (the default) when absent. */
export function timeoutMsOf(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
    throw ValidationError.field("timeoutMs", "must be a whole number of milliseconds");
  return value;
}

/** `If-Match: "3"` or `?version=3` or a body's `version`: the optimistic-concurrency version. */
export function expectedVersion(p: Parsed, fromBody?: unknown): number | undefined {
  const raw =
    p.header.get("if-match")?.replace(/^W\//, "").replaceAll('"', "") ?? p.query.get("version") ?? fromBody;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
    throw ValidationError.field("version", "must be a positive integer");
  return n;
}

export const etag = (version: number) => ({ etag: `"${version}"` });

export function statusName(s: ConnectionStatus): string {
  return (ConnectionStatus[s] ?? "UNSPECIFIED").toLowerCase();
}
