import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { csvField, csvParts, jsonParts, rowAsText } from "../../clients/web/src/query/export.js";
import { parameterLabels, statementAt } from "../../clients/web/src/query/statements.js";
import { ColumnSchema, RowSchema, type Value, ValueSchema } from "../../src/gen/berth/v1/values_pb.js";

const text = (value: string) => create(ValueSchema, { kind: { case: "text", value } });
const int = (value: bigint) => create(ValueSchema, { kind: { case: "int64", value } });
const nul = create(ValueSchema, { kind: { case: "null", value: true } });
const row = (...values: Value[]) => create(RowSchema, { values });
const col = (name: string) => create(ColumnSchema, { name, typeName: "text" });

describe("the query console's statement at the cursor", () => {
  const script = "SELECT 1;\nSELECT ';' AS semi -- ; not here\n, 2;\n\nSELECT $$ ; $$";
  it("splits at semicolons outside strings, comments and dollar quotes", () => {
    expect(statementAt(script, 3, "postgresql")).toBe("SELECT 1");
    expect(statementAt(script, 15, "postgresql")).toBe("SELECT ';' AS semi -- ; not here\n, 2");
    expect(statementAt(script, script.length, "postgresql")).toBe("SELECT $$ ; $$");
  });
  it("takes the statement before when the cursor is in the blanks after a semicolon", () => {
    expect(statementAt("SELECT 1;\n", 10, "postgresql")).toBe("SELECT 1");
  });
  it("knows MySQL's backslash escapes and SQL Server's bracketed names", () => {
    expect(statementAt("SELECT 'a\\';b'; SELECT 2", 2, "mysql")).toBe("SELECT 'a\\';b'");
    expect(statementAt("SELECT [a;b] FROM t; SELECT 2", 2, "sqlserver")).toBe("SELECT [a;b] FROM t");
  });
});

describe("the query console's parameters", () => {
  it("finds each engine's placeholders, not those in strings or comments", () => {
    expect(parameterLabels("SELECT $2::int, '$3' -- $4", "postgresql")).toEqual(["$1", "$2"]);
    expect(parameterLabels("SELECT ?, '?', ?", "mysql")).toEqual(["? #1", "? #2"]);
    expect(parameterLabels("SELECT @p1, @@ROWCOUNT", "sqlserver")).toEqual(["@p1"]);
    expect(parameterLabels("SELECT :1 FROM dual", "oracle")).toEqual([":1"]);
    expect(parameterLabels("SELECT 1::int", "postgresql")).toEqual([]);
  });
});

describe("the query console's CSV and JSON exports", () => {
  it('quotes per RFC 4180 and keeps NULL (empty) apart from empty text ("")', () => {
    const parts = csvParts(
      [col("a"), col('b"q')],
      [row(text('say "hi", then\nleave'), nul), row(text(""), int(-5n))],
    );
    expect(parts.join("")).toBe('a,"b""q"\r\n"say ""hi"", then\nleave",\r\n"",-5\r\n');
  });
  it("guards text that a spreadsheet would run as a formula, but not negative numbers", () => {
    expect(csvField(text('=HYPERLINK("http://x")'))).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvField(text("@SUM(A1)"))).toBe("'@SUM(A1)");
    expect(csvField(text("-1+2"))).toBe("'-1+2");
    expect(csvField(int(-42n))).toBe("-42");
  });
  it("writes JSON with nulls, exact big integers, and repeated names made unique", () => {
    const json = JSON.parse(
      jsonParts([col("id"), col("id"), col("note")], [row(int(2n ** 60n), int(7n), nul)]).join(""),
    );
    expect(json).toEqual([{ id: "1152921504606846976", id_2: 7, note: null }]);
    expect(JSON.parse(jsonParts([col("a")], []).join(""))).toEqual([]);
  });
  it("copies a row as tab-separated text", () => {
    expect(rowAsText([col("a"), col("b"), col("c")], row(text("x"), nul, text("tab\there")))).toBe(
      'x\t\t"tab\there"',
    );
  });
});
