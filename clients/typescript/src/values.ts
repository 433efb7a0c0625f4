import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { clientError } from "./errors.js";
import type { Column as ColumnMessage, Value } from "./gen/berth/v1/values_pb.js";

/** A JSON document, parsed. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A database value in JavaScript. int64 → bigint; double → number; exact numerics (NUMERIC,
 * DECIMAL, MONEY) → their decimal string, never rounded; text → string; bytes → Uint8Array;
 * an instant (TIMESTAMPTZ) → Date (to the millisecond: JavaScript's Date has no finer digits);
 * a calendar date, a time of day and a timestamp without zone → their ISO-style string (turning
 * them into a Date would invent a time zone); JSON → the parsed value; arrays → arrays; NULL → null.
 */
export type SqlValue = null | boolean | bigint | number | string | Uint8Array | Date | Json | SqlValue[];

/** A row as a plain object keyed by column name (a later column wins over an earlier one of the same name). */
export type Row = Record<string, SqlValue>;

export interface Column {
  name: string;
  /** The engine's own type name (int4, numeric, VARCHAR, DATETIME, ...). */
  typeName: string;
  /** Absent when the engine does not say. */
  nullable?: boolean;
}

/** What may be passed as a statement parameter: the JavaScript values above, or a value built with `param`. */
export type SqlParam =
  | null
  | undefined
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | Date
  | Value
  | readonly SqlParam[]
  | { readonly [key: string]: unknown };

type Kind = Exclude<Value["kind"]["case"], undefined>;
type KindValue<K extends Kind> = Extract<Value["kind"], { case: K }>["value"];
const make = <K extends Kind>(c: K, value: KindValue<K>): Value =>
  ({ $typeName: "berth.v1.Value", kind: { case: c, value } }) as Value;

function timestampOf(d: Date): Timestamp {
  const ms = d.getTime();
  if (Number.isNaN(ms))
    throw clientError("INVALID_ARGUMENT", "invalid_parameter", "An invalid Date was given");
  const seconds = Math.floor(ms / 1000);
  return {
    $typeName: "google.protobuf.Timestamp",
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1e6,
  };
}

/**
 * Parameters whose kind JavaScript cannot tell apart from a string or a number: an exact decimal,
 * a calendar date, a time of day, a timestamp without zone, JSON; and explicit int64/double/text.
 */
export const param = {
  null: (): Value => make("null", true),
  bool: (b: boolean): Value => make("bool", b),
  int64: (n: bigint | number | string): Value => make("int64", BigInt(n)),
  double: (n: number): Value => make("double", n),
  decimal: (s: string): Value => make("decimal", s),
  text: (s: string): Value => make("text", s),
  bytes: (b: Uint8Array): Value => make("bytes", b),
  /** "YYYY-MM-DD". */
  date: (s: string): Value => make("date", s),
  /** "HH:MM:SS[.ffffff][+ZZ]". */
  time: (s: string): Value => make("time", s),
  timestamp: (d: Date): Value => make("timestamp", timestampOf(d)),
  /** "YYYY-MM-DDTHH:MM:SS[.ffffff]", without zone. */
  localTimestamp: (s: string): Value => make("localTimestamp", s),
  /** A JSON document: a value to serialize, or a string that already is JSON text. */
  json: (v: unknown, alreadyText = false): Value => make("json", alreadyText ? String(v) : jsonText(v)),
  array: (items: readonly SqlParam[]): Value =>
    make("array", { $typeName: "berth.v1.ValueList", values: items.map(toValue) }),
};

function jsonText(v: unknown): string {
  try {
    const text = JSON.stringify(v);
    if (text === undefined) throw new Error("nothing to serialize");
    return text;
  } catch (e) {
    // A bigint, a cycle, a function: say so, never a TypeError from deep inside.
    throw clientError(
      "INVALID_ARGUMENT",
      "invalid_parameter",
      `Not a JSON document: ${(e as Error).message}`,
    );
  }
}

function isPlainObject(x: object): boolean {
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function isValue(x: object): x is Value {
  return (x as { $typeName?: unknown }).$typeName === "berth.v1.Value";
}

/** A JavaScript parameter as a wire value. Integers become int64, other numbers double. */
export function toValue(x: SqlParam): Value {
  switch (typeof x) {
    case "undefined":
      return param.null();
    case "boolean":
      return param.bool(x);
    case "bigint":
      return make("int64", x);
    case "number":
      return Number.isSafeInteger(x) ? make("int64", BigInt(x)) : param.double(x);
    case "string":
      return param.text(x);
    case "object":
      if (x === null) return param.null();
      if (x instanceof Uint8Array) return param.bytes(x);
      if (x instanceof Date) return param.timestamp(x);
      if (Array.isArray(x)) return param.array(x);
      if (isValue(x)) return x;
      // Only plain objects are JSON: a Map or a class instance would quietly become "{}".
      if (isPlainObject(x)) return param.json(x);
      throw clientError(
        "INVALID_ARGUMENT",
        "invalid_parameter",
        `A ${x.constructor?.name ?? "object"} cannot be a statement parameter (use param.json for JSON)`,
      );
    default:
      throw clientError(
        "INVALID_ARGUMENT",
        "invalid_parameter",
        `A ${typeof x} cannot be a statement parameter`,
      );
  }
}

/** A wire value as JavaScript (see SqlValue). */
export function fromValue(v: Value): SqlValue {
  const k = v.kind;
  switch (k.case) {
    case "int64":
    case "bool":
    case "double":
    case "decimal":
    case "text":
    case "bytes":
    case "date":
    case "time":
    case "localTimestamp":
      return k.value;
    case "timestamp":
      return new Date(Number(k.value.seconds) * 1000 + Math.floor(k.value.nanos / 1e6));
    case "json":
      return JSON.parse(k.value) as Json;
    case "array":
      return k.value.values.map(fromValue);
    default:
      return null;
  }
}

export function toColumn(c: ColumnMessage): Column {
  return c.nullable === undefined
    ? { name: c.name, typeName: c.typeName }
    : { name: c.name, typeName: c.typeName, nullable: c.nullable };
}

/**
 * Builds rows for one result's columns. Column names become keys; `__proto__` (a legal column
 * name) is defined as an own property so that it cannot change the row's prototype.
 */
export function rowBuilder(columns: readonly Column[]): (values: readonly Value[]) => Row {
  const names = columns.map((c) => c.name);
  const safe = !names.includes("__proto__");
  return (values) => {
    const row: Row = {};
    for (let i = 0; i < names.length; i++) {
      const value = values[i] ? fromValue(values[i]!) : null;
      if (safe) row[names[i]!] = value;
      else
        Object.defineProperty(row, names[i]!, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return row;
  };
}
