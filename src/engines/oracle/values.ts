import oracledb from "oracledb";
import {
  boolValue,
  bytesValue,
  dateValue,
  decimalValue,
  doubleValue,
  int64Value,
  jsonValue,
  localTimestampValue,
  NULL_VALUE,
  textValue,
  timestampValue,
} from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";

/** What oracledb reports for a column in `metaData`. */
export interface OracleColumn {
  name: string;
  dbType?: { num?: number; name?: string } | number;
  dbTypeName?: string;
  nullable?: boolean;
  precision?: number;
  scale?: number;
}

type Converter = (raw: unknown) => Value;

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * oracledb's thin mode decodes DATE and TIMESTAMP into a JS Date in the process's local time zone,
 * to the millisecond; its local fields are the stored wall-clock time.
 */
function wallClock(d: Date): string {
  const ms = d.getMilliseconds();
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${ms ? `.${pad(ms, 3)}` : ""}`;
}

const local: Converter = (x) => localTimestampValue(wallClock(x as Date));
const dateOnly: Converter = (x) => {
  // A DATE always has a time of day; midnight is shown as a date, anything else in full.
  const d = x as Date;
  return d.getHours() || d.getMinutes() || d.getSeconds() ? local(d) : dateValue(wallClock(d).slice(0, 10));
};
const instant: Converter = (x) => {
  const ms = (x as Date).getTime();
  const seconds = Math.floor(ms / 1000);
  return timestampValue({
    $typeName: "google.protobuf.Timestamp",
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1_000_000,
  });
};
// NUMBER is fetched as a string (see fetchTypeHandler): exact, whatever its precision.
const num =
  (column: OracleColumn): Converter =>
  (x) => {
    const s = String(x);
    return column.scale === 0 &&
      column.precision !== undefined &&
      column.precision > 0 &&
      column.precision <= 18
      ? int64Value(BigInt(s))
      : decimalValue(s);
  };
const dbl: Converter = (x) => doubleValue(Number(x));
const str: Converter = (x) => textValue(String(x));
const bin: Converter = (x) => bytesValue(x as Buffer);
const bool: Converter = (x) => boolValue(Boolean(x));
const json: Converter = (x) => jsonValue(typeof x === "string" ? x : JSON.stringify(x));

function typeNum(column: OracleColumn): number | undefined {
  return typeof column.dbType === "number" ? column.dbType : column.dbType?.num;
}

const BY_TYPE: Record<number, Converter | ((c: OracleColumn) => Converter)> = {
  [oracledb.DB_TYPE_DATE.num]: dateOnly,
  [oracledb.DB_TYPE_TIMESTAMP.num]: local,
  [oracledb.DB_TYPE_TIMESTAMP_TZ.num]: instant,
  [oracledb.DB_TYPE_TIMESTAMP_LTZ.num]: instant,
  [oracledb.DB_TYPE_BINARY_DOUBLE.num]: dbl,
  [oracledb.DB_TYPE_BINARY_FLOAT.num]: dbl,
  [oracledb.DB_TYPE_RAW.num]: bin,
  [oracledb.DB_TYPE_LONG_RAW.num]: bin,
  [oracledb.DB_TYPE_BLOB.num]: bin,
  [oracledb.DB_TYPE_BOOLEAN.num]: bool,
  [oracledb.DB_TYPE_JSON.num]: json,
};

export function oracleTypeName(column: OracleColumn): string {
  const t = column.dbTypeName ?? (typeof column.dbType === "object" ? column.dbType?.name : undefined);
  return t ?? "UNKNOWN";
}

export function oracleConverter(column: OracleColumn): (raw: unknown) => Value {
  const n = typeNum(column);
  const convert =
    n === oracledb.DB_TYPE_NUMBER.num
      ? num(column)
      : n !== undefined && BY_TYPE[n]
        ? (BY_TYPE[n] as Converter)
        : str;
  return (raw) => (raw === null || raw === undefined ? NULL_VALUE : convert(raw));
}

/**
 * Asks oracledb for exact forms: NUMBER as text (a JS number would round it), CLOB/NCLOB as text
 * and BLOB as bytes read with the row, so every value is plain data when it reaches the wire.
 */
export function fetchTypeHandler(metaData: OracleColumn): { type: unknown } | undefined {
  const n = typeNum(metaData);
  if (n === oracledb.DB_TYPE_NUMBER.num) return { type: oracledb.STRING };
  if (n === oracledb.DB_TYPE_CLOB.num || n === oracledb.DB_TYPE_NCLOB.num) return { type: oracledb.STRING };
  if (n === oracledb.DB_TYPE_BLOB.num) return { type: oracledb.BUFFER };
  return undefined;
}

/** A parameter → what oracledb binds (by position: :1, :2, ...). */
export function oracleParam(value: Value | undefined): unknown {
  const k = value?.kind;
  if (!k || k.case === undefined || k.case === "null") return null;
  switch (k.case) {
    case "int64":
      return { val: k.value.toString(), type: oracledb.STRING };
    case "bytes":
      return Buffer.from(k.value);
    case "timestamp":
      return new Date(Number(k.value.seconds) * 1000 + Math.floor(k.value.nanos / 1e6));
    case "array":
      throw Object.assign(
        new Error("Oracle binds no arrays here; pass a collection type or a delimited string"),
        {
          code: "EPARAM",
        },
      );
    default:
      return k.value;
  }
}
