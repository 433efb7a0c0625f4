import type { Column, Row, Value } from "../../../../src/gen/berth/v1/values_pb.js";
import { isNull, isNumeric, show, toJson } from "./values.js";

/**
 * Exports built from the result held in the page (never by running the statement again), in parts
 * that go into a Blob as they are, so a large result is not one giant string.
 */

/**
 * A spreadsheet reads a cell that starts with = + - @ (or a tab or carriage return) as a formula:
 * a CSV of database text opened in Excel or Sheets could run `=HYPERLINK(…)` from a row somebody
 * else wrote (CWE-1236). Such text cells get a leading apostrophe, which spreadsheets show as
 * text and do not display. Numbers keep their minus sign. The JSON export is never altered.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180): quoted when it holds the delimiter, a quote, CR or LF, with quotes
 * doubled. NULL is an empty unquoted field and empty text is "" — the distinction PostgreSQL's
 * COPY … CSV makes, so NULL and '' survive a round trip.
 */
export function csvField(v: Value | undefined, delimiter = ","): string {
  if (isNull(v)) return "";
  let text = show(v);
  if (!isNumeric(v) && FORMULA_START.test(text)) text = `'${text}`;
  if (text === "" || text.includes(delimiter) || /["\r\n]/.test(text))
    return `"${text.replaceAll('"', '""')}"`;
  return text;
}

const headerField = (name: string) =>
  /[",\r\n]/.test(name) || name === "" ? `"${name.replaceAll('"', '""')}"` : name;

/** RFC 4180: a header line, CRLF line ends. */
export function csvParts(columns: Column[], rows: Row[]): string[] {
  const parts = [`${columns.map((c) => headerField(c.name)).join(",")}\r\n`];
  for (const row of rows) parts.push(`${columns.map((_, i) => csvField(row.values[i])).join(",")}\r\n`);
  return parts;
}

/** An array of objects keyed by column name (a repeated name gets its position appended: id, id_2). */
export function jsonParts(columns: Column[], rows: Row[]): string[] {
  const seen = new Map<string, number>();
  const keys = columns.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return n === 1 ? c.name : `${c.name}_${n}`;
  });
  const parts = ["["];
  rows.forEach((row, r) => {
    const object = Object.fromEntries(keys.map((k, i) => [k, toJson(row.values[i])]));
    parts.push(`${r === 0 ? "\n" : ",\n"}  ${JSON.stringify(object)}`);
  });
  parts.push(rows.length > 0 ? "\n]\n" : "]\n");
  return parts;
}

/** A row for the clipboard: tab-separated, which spreadsheets paste into cells; NULL as empty. */
export const rowAsText = (columns: Column[], row: Row) =>
  columns.map((_, i) => csvField(row.values[i], "\t")).join("\t");

/** One cell for the clipboard: its text as shown; NULL as the word NULL would paste as text, so empty. */
export const cellAsText = (v: Value | undefined) => (isNull(v) ? "" : show(v));
