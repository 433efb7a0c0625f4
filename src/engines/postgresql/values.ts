import { parse as parseArray } from "postgres-array";
import {
  arrayValue,
  boolValue,
  bytesValue,
  dateValue,
  decimalValue,
  doubleValue,
  int64Value,
  jsonValue,
  localTimestampValue,
  NULL_VALUE,
  parseInstant,
  textValue,
  timestampValue,
  timeValue,
} from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";

/** PostgreSQL type OIDs Berth converts; everything else is passed on as text. */
type Converter = (text: string) => Value;

const int: Converter = (t) => int64Value(BigInt(t));
const float: Converter = (t) =>
  doubleValue(
    t === "NaN" ? Number.NaN : t === "Infinity" ? Infinity : t === "-Infinity" ? -Infinity : Number(t),
  );
const bool: Converter = (t) => boolValue(t === "t");
const bytea: Converter = (t) =>
  bytesValue(t.startsWith("\\x") ? Buffer.from(t.slice(2), "hex") : Buffer.from(t, "latin1"));
const instant: Converter = (t) => {
  const ts = parseInstant(t);
  return ts ? timestampValue(ts) : textValue(t); // infinity, BC dates: as the server prints them
};
const local: Converter = (t) => (/^\d{4}-/.test(t) ? localTimestampValue(t.replace(" ", "T")) : textValue(t));

const SCALARS: Record<number, [string, Converter]> = {
  16: ["bool", bool],
  17: ["bytea", bytea],
  20: ["int8", int],
  21: ["int2", int],
  23: ["int4", int],
  26: ["oid", int],
  700: ["float4", float],
  701: ["float8", float],
  1700: ["numeric", decimalValue],
  790: ["money", decimalValue],
  25: ["text", textValue],
  1043: ["varchar", textValue],
  1042: ["bpchar", textValue],
  19: ["name", textValue],
  18: ["char", textValue],
  2950: ["uuid", textValue],
  114: ["json", jsonValue],
  3802: ["jsonb", jsonValue],
  1082: ["date", dateValue],
  1083: ["time", timeValue],
  1266: ["timetz", timeValue],
  1114: ["timestamp", local],
  1184: ["timestamptz", instant],
  1186: ["interval", textValue],
  869: ["inet", textValue],
  650: ["cidr", textValue],
  142: ["xml", textValue],
};

/** Array OID → element OID. */
const ARRAYS: Record<number, number> = {
  1000: 16,
  1001: 17,
  1005: 21,
  1007: 23,
  1016: 20,
  1021: 700,
  1022: 701,
  1231: 1700,
  1009: 25,
  1015: 1043,
  1014: 1042,
  2951: 2950,
  199: 114,
  3807: 3802,
  1182: 1082,
  1183: 1083,
  1115: 1114,
  1185: 1184,
};

export function pgTypeName(oid: number): string {
  const scalar = SCALARS[oid];
  if (scalar) return scalar[0];
  const element = ARRAYS[oid];
  if (element !== undefined) return `_${SCALARS[element]![0]}`;
  return `oid:${oid}`;
}

/** A converter from PostgreSQL's text format to a typed Value, chosen once per column. */
export function pgConverter(oid: number): (text: string | null) => Value {
  const scalar = SCALARS[oid]?.[1] ?? textValue;
  const element = ARRAYS[oid];
  if (element === undefined) return (t) => (t === null ? NULL_VALUE : scalar(t));
  const convert = SCALARS[element]![1];
  const toValue = (x: unknown): Value =>
    x === null ? NULL_VALUE : Array.isArray(x) ? arrayValue(x.map(toValue)) : convert(String(x));
  return (t) => (t === null ? NULL_VALUE : toValue(parseArray(t)));
}
