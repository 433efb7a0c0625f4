import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Column, Row, Value } from "../gen/berth/v1/values_pb.js";

/**
 * Builders for the wire's typed values. Plain objects with $typeName are what protobuf-es
 * serializes; building them directly keeps the per-row path free of `create()` calls.
 */
type Kind = Value["kind"];
const v = (kind: Kind): Value => ({ $typeName: "berth.v1.Value", kind });

export const NULL_VALUE: Value = v({ case: "null", value: true });
export const boolValue = (b: boolean) => v({ case: "bool", value: b });
export const int64Value = (n: bigint) => v({ case: "int64", value: n });
export const doubleValue = (n: number) => v({ case: "double", value: n });
export const decimalValue = (s: string) => v({ case: "decimal", value: s });
export const textValue = (s: string) => v({ case: "text", value: s });
export const bytesValue = (b: Uint8Array) => v({ case: "bytes", value: b });
export const dateValue = (s: string) => v({ case: "date", value: s });
export const timeValue = (s: string) => v({ case: "time", value: s });
export const timestampValue = (t: Timestamp) => v({ case: "timestamp", value: t });
export const localTimestampValue = (s: string) => v({ case: "localTimestamp", value: s });
export const jsonValue = (s: string) => v({ case: "json", value: s });
export const arrayValue = (values: Value[]) =>
  v({ case: "array", value: { $typeName: "berth.v1.ValueList", values } });

export function row(values: Value[]): Row {
  return { $typeName: "berth.v1.Row", values };
}

export function column(name: string, typeName: string, nullable?: boolean): Column {
  return { $typeName: "berth.v1.Column", name, typeName, ...(nullable === undefined ? {} : { nullable }) };
}

/** Rough wire size of a value, to cut row batches at about the configured number of bytes. */
export function approximateSize(value: Value): number {
  const k = value.kind;
  switch (k.case) {
    case "text":
    case "decimal":
    case "json":
    case "date":
    case "time":
    case "localTimestamp":
      return k.value.length + 3;
    case "bytes":
      return k.value.byteLength + 3;
    case "array":
      return k.value.values.reduce((n, x) => n + approximateSize(x), 3);
    default:
      return 10;
  }
}

/** "2024-01-02 03:04:05.123456+05:30" (PostgreSQL's text form of timestamptz) → Timestamp. */
const TIMESTAMPTZ =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?$/;

export function parseInstant(text: string): Timestamp | undefined {
  const m = TIMESTAMPTZ.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os] = m;
  const utcMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(utcMs)) return undefined;
  const offset = sign
    ? (sign === "-" ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0))
    : 0;
  const seconds = BigInt(Math.floor(utcMs / 1000)) - BigInt(offset);
  const nanos = frac ? Number(frac.padEnd(9, "0")) : 0;
  return { $typeName: "google.protobuf.Timestamp", seconds, nanos };
}

/**
 * An instant as ISO 8601 in UTC to the microsecond, "YYYY-MM-DDTHH:MM:SS.ffffffZ": a JS Date would
 * cut it to the millisecond. (Past year 9999 the year is written as Date writes it, "+010000".)
 */
export function instantToIso(ts: Timestamp): string {
  const whole = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, -5);
  return `${whole}.${String(Math.floor(ts.nanos / 1000)).padStart(6, "0")}Z`;
}

/** A parameter value → what a JS driver binds (strings for exact and temporal types). */
export function valueToDriverParam(value: Value | undefined): unknown {
  const k = value?.kind;
  if (!k || k.case === undefined || k.case === "null") return null;
  switch (k.case) {
    case "int64":
      return k.value.toString();
    case "bytes":
      return Buffer.from(k.value);
    case "timestamp":
      return instantToIso(k.value);
    case "array":
      return k.value.values.map(valueToDriverParam);
    default:
      return k.value;
  }
}
