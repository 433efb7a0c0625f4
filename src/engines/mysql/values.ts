import type { FieldPacket } from "mysql2";
import {
  bytesValue,
  dateValue,
  decimalValue,
  doubleValue,
  instantToIso,
  int64Value,
  jsonValue,
  localTimestampValue,
  NULL_VALUE,
  textValue,
  timeValue,
  valueToDriverParam,
} from "../../drivers/values.js";
import type { Value } from "../../gen/berth/v1/values_pb.js";

/** MySQL column type codes (protocol ColumnType) → name and converter. */
const BINARY_CHARSET = 63;
const NOT_NULL_FLAG = 1;

type Converter = (raw: unknown) => Value;

const int: Converter = (x) => int64Value(BigInt(x as number | string));
const dbl: Converter = (x) => doubleValue(Number(x));
const str: Converter = (x) => textValue(Buffer.isBuffer(x) ? x.toString("utf8") : String(x));
const dec: Converter = (x) => decimalValue(String(x));
const date: Converter = (x) => dateValue(String(x));
const time: Converter = (x) => timeValue(String(x));
const local: Converter = (x) => localTimestampValue(String(x).replace(" ", "T"));
const json: Converter = (x) => jsonValue(typeof x === "string" ? x : JSON.stringify(x));
const bin: Converter = (x) => bytesValue(Buffer.isBuffer(x) ? x : Buffer.from(String(x)));

const TYPES: Record<number, [string, Converter]> = {
  0: ["DECIMAL", dec],
  1: ["TINYINT", int],
  2: ["SMALLINT", int],
  3: ["INT", int],
  4: ["FLOAT", dbl],
  5: ["DOUBLE", dbl],
  6: ["NULL", () => NULL_VALUE],
  7: ["TIMESTAMP", local],
  8: ["BIGINT", int],
  9: ["MEDIUMINT", int],
  10: ["DATE", date],
  11: ["TIME", time],
  12: ["DATETIME", local],
  13: ["YEAR", int],
  15: ["VARCHAR", str],
  16: ["BIT", bin],
  245: ["JSON", json],
  246: ["DECIMAL", dec],
  247: ["ENUM", str],
  248: ["SET", str],
  249: ["TINYBLOB", str],
  250: ["MEDIUMBLOB", str],
  251: ["LONGBLOB", str],
  252: ["BLOB", str],
  253: ["VARCHAR", str],
  254: ["CHAR", str],
};

/** MariaDB's JSON is a LONGTEXT; only its extended metadata (format "json") says it holds JSON. */
function isJson(field: FieldPacket): boolean {
  return field.columnType === 245 || field.extendedFormat === "json";
}

export function mysqlTypeName(field: FieldPacket): string {
  if (isJson(field)) return "JSON";
  const base = TYPES[field.columnType ?? -1]?.[0] ?? `type:${field.columnType}`;
  const binary = field.characterSet === BINARY_CHARSET;
  if (!binary) return base.replace("BLOB", "TEXT");
  return base === "VARCHAR" ? "VARBINARY" : base === "CHAR" ? "BINARY" : base;
}

export function mysqlNullable(field: FieldPacket): boolean {
  return ((field.flags as number) & NOT_NULL_FLAG) === 0;
}

/** A converter chosen once per column: binary string columns become bytes, the rest by type. */
export function mysqlConverter(field: FieldPacket): (raw: unknown) => Value {
  if (isJson(field)) return (raw) => (raw === null || raw === undefined ? NULL_VALUE : json(raw));
  const entry = TYPES[field.columnType ?? -1];
  const isStringish = [15, 249, 250, 251, 252, 253, 254].includes(field.columnType ?? -1);
  const convert = isStringish && field.characterSet === BINARY_CHARSET ? bin : (entry?.[1] ?? str);
  return (raw) => (raw === null || raw === undefined ? NULL_VALUE : convert(raw));
}

/**
 * A parameter as mysql2 binds it. An instant goes as its UTC wall-clock time
 * "YYYY-MM-DD HH:MM:SS.ffffff": MySQL's DATETIME and TIMESTAMP take no zone (MariaDB's strict
 * sql_mode refuses the ISO form with "T" and "Z"), and nothing is cut below the microsecond.
 */
export function mysqlParam(value: Value): unknown {
  if (value.kind.case === "timestamp") return instantToIso(value.kind.value).slice(0, -1).replace("T", " ");
  return valueToDriverParam(value);
}
