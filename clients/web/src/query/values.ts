import type { Value } from "../../../../src/gen/berth/v1/values_pb.js";

export const isNull = (v: Value | undefined) =>
  !v?.kind || v.kind.case === undefined || v.kind.case === "null";

/** A value as text for the grid and the copies. NULL is "NULL" here; the grid styles it apart. */
export function show(v: Value | undefined): string {
  const k = v?.kind;
  if (!k || k.case === undefined || k.case === "null") return "NULL";
  switch (k.case) {
    case "bytes":
      return `\\x${Array.from(k.value, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    case "timestamp":
      return new Date(Number(k.value.seconds) * 1000 + k.value.nanos / 1e6).toISOString();
    case "array":
      return `{${k.value.values.map(show).join(",")}}`;
    default:
      return String(k.value);
  }
}

/** Values that are numbers: a leading minus is a sign there, not the start of a spreadsheet formula. */
export const isNumeric = (v: Value | undefined) =>
  v?.kind.case === "int64" || v?.kind.case === "double" || v?.kind.case === "decimal";

/**
 * A value as JSON: exact where JSON can be. Integers beyond 2^53 and decimals stay strings (a
 * double would round them), bytes are \x hex as in the grid, a JSON column is its document.
 */
export function toJson(v: Value | undefined): unknown {
  const k = v?.kind;
  if (!k || k.case === undefined || k.case === "null") return null;
  switch (k.case) {
    case "bool":
      return k.value;
    case "int64":
      return k.value >= BigInt(Number.MIN_SAFE_INTEGER) && k.value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(k.value)
        : k.value.toString();
    case "double":
      return Number.isFinite(k.value) ? k.value : String(k.value);
    case "json":
      try {
        return JSON.parse(k.value);
      } catch {
        return k.value;
      }
    case "array":
      return k.value.values.map(toJson);
    default:
      return show(v);
  }
}
