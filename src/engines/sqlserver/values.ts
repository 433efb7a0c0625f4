import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { TYPES } from "tedious";
import {
  boolValue,
  bytesValue,
  dateValue,
  decimalValue,
  doubleValue,
  int64Value,
  localTimestampValue,
  NULL_VALUE,
  textValue,
  timestampValue,
  timeValue,
} from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";

/** What tedious reports for a column: its type name, and (for temporal types) the scale. */
export interface SqlServerColumn {
  colName: string;
  type: { name: string };
  flags?: number;
  scale?: number;
}

type Converter = (raw: unknown) => Value;

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The 7-digit fraction of a tedious date: milliseconds, then the 100 ns ticks in nanosecondsDelta. */
function fraction(d: Date): string {
  const delta = (d as Date & { nanosecondsDelta?: number }).nanosecondsDelta ?? 0;
  const ticks = d.getUTCMilliseconds() * 10_000 + Math.round(delta * 1e7);
  return pad(ticks, 7).replace(/0+$/, "");
}

function ymd(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

function hms(d: Date): string {
  const f = fraction(d);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${f ? `.${f}` : ""}`;
}

// tedious is configured with useUTC: true, so a datetime2's wall-clock fields are its UTC fields.
const local: Converter = (x) => localTimestampValue(`${ymd(x as Date)}T${hms(x as Date)}`);
const date: Converter = (x) => dateValue(ymd(x as Date));
const time: Converter = (x) => timeValue(hms(x as Date));
const instant: Converter = (x) => {
  const d = x as Date & { nanosecondsDelta?: number };
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000 + Math.round((d.nanosecondsDelta ?? 0) * 1e9);
  const t: Timestamp = { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos };
  return timestampValue(t);
};
const int: Converter = (x) => int64Value(BigInt(x as number | string));
const dbl: Converter = (x) => doubleValue(Number(x));
// tedious decodes decimal, numeric and money into a JS number: exact up to 15 significant digits.
const dec: Converter = (x) => decimalValue(String(x));
const str: Converter = (x) => textValue(String(x));
const bin: Converter = (x) => bytesValue(x as Buffer);
const bit: Converter = (x) => boolValue(Boolean(x));

const CONVERTERS: Record<string, [string, Converter]> = {
  TinyInt: ["tinyint", int],
  SmallInt: ["smallint", int],
  Int: ["int", int],
  BigInt: ["bigint", int],
  Bit: ["bit", bit],
  Float: ["float", dbl],
  Real: ["real", dbl],
  Decimal: ["decimal", dec],
  Numeric: ["numeric", dec],
  Money: ["money", dec],
  SmallMoney: ["smallmoney", dec],
  UniqueIdentifier: ["uniqueidentifier", str],
  Date: ["date", date],
  Time: ["time", time],
  DateTime: ["datetime", local],
  SmallDateTime: ["smalldatetime", local],
  DateTime2: ["datetime2", local],
  DateTimeOffset: ["datetimeoffset", instant],
  Char: ["char", str],
  VarChar: ["varchar", str],
  Text: ["text", str],
  NChar: ["nchar", str],
  NVarChar: ["nvarchar", str],
  NText: ["ntext", str],
  Xml: ["xml", str],
  Binary: ["binary", bin],
  VarBinary: ["varbinary", bin],
  Image: ["image", bin],
};

/** tedious reports nullable types as IntN, BitN, FloatN, DecimalN, MoneyN, DateTimeN... */
function baseName(column: SqlServerColumn): string {
  const name = column.type.name;
  return name.endsWith("N") && name !== "IntN" && CONVERTERS[name] === undefined ? name.slice(0, -1) : name;
}

function sizedIntName(column: SqlServerColumn): string {
  // IntN carries its width in dataLength: 1, 2, 4 or 8 bytes.
  const width = (column as { dataLength?: number }).dataLength;
  return width === 1 ? "TinyInt" : width === 2 ? "SmallInt" : width === 8 ? "BigInt" : "Int";
}

function entryFor(column: SqlServerColumn): [string, Converter] {
  const name = column.type.name === "IntN" ? sizedIntName(column) : baseName(column);
  return CONVERTERS[name] ?? [column.type.name.toLowerCase(), str];
}

export function sqlServerTypeName(column: SqlServerColumn): string {
  return entryFor(column)[0];
}

/** [MS-TDS] COLMETADATA flags: bit 0 is fNullable. */
export function sqlServerNullable(column: SqlServerColumn): boolean | undefined {
  return column.flags === undefined ? undefined : (column.flags & 0x1) === 0x1;
}

export function sqlServerConverter(column: SqlServerColumn): (raw: unknown) => Value {
  const convert = entryFor(column)[1];
  return (raw) => (raw === null || raw === undefined ? NULL_VALUE : convert(raw));
}

/** A parameter → the tedious type and value it binds as. Strings let the server convert exactly. */
export function sqlServerParam(value: Value | undefined): {
  type: (typeof TYPES)[keyof typeof TYPES];
  value: unknown;
} {
  const k = value?.kind;
  if (!k || k.case === undefined || k.case === "null") return { type: TYPES.NVarChar, value: null };
  switch (k.case) {
    case "bool":
      return { type: TYPES.Bit, value: k.value };
    case "int64":
      return { type: TYPES.BigInt, value: k.value };
    case "double":
      return { type: TYPES.Float, value: k.value };
    case "bytes":
      return { type: TYPES.VarBinary, value: Buffer.from(k.value) };
    case "timestamp":
      return {
        type: TYPES.DateTimeOffset,
        value: new Date(Number(k.value.seconds) * 1000 + Math.floor(k.value.nanos / 1e6)),
      };
    case "array":
      throw Object.assign(
        new Error("SQL Server has no array parameters; pass a table or a delimited string"),
        {
          code: "EPARAM",
        },
      );
    default:
      // decimal, text, date, time, local timestamp, json: as nvarchar, converted by the server
      // to the column's type exactly (a JS number would round a decimal).
      return { type: TYPES.NVarChar, value: k.value };
  }
}
