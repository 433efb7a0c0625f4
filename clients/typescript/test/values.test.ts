import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type BerthClient, createBerthClient, param, type SqlParam, type SqlValue } from "@berth/client";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";

/**
 * Every kind of berth.v1.Value (src/gen/berth/v1/values_pb.ts) read from the database as its
 * JavaScript type, and sent as a parameter and read back unchanged.
 */
let berth: RunningBerth;
let pgId: string;
let myId: string;
let token: string;
const clients: BerthClient[] = [];

before(async () => {
  berth = await startBerth();
  pgId = await createConnection(berth, "postgresql");
  myId = await createConnection(berth, "mysql");
  token = await createServiceToken(berth, [pgId, myId]);
});

after(async () => {
  for (const c of clients) c.close();
  await berth?.dispose();
});

function client(transport: "grpc" | "connect"): BerthClient {
  // The dedicated grpc-js port for gRPC (what services use); the HTTP port for Connect.
  const c = createBerthClient({ url: transport === "grpc" ? berth.grpcUrl : berth.url, token, transport });
  clients.push(c);
  return c;
}

/** [kind, SQL literal, its JavaScript value] on PostgreSQL. */
const PG_READS: [string, string, SqlValue][] = [
  ["null", "NULL::int4", null],
  ["bool", "true", true],
  ["int64", "9223372036854775807::int8", 9223372036854775807n],
  ["int64 (negative int4)", "(-2147483648)::int4", -2147483648n],
  ["double", "1.5::float8", 1.5],
  ["double (NaN)", "'NaN'::float8", Number.NaN],
  ["double (-Infinity)", "'-Infinity'::float8", Number.NEGATIVE_INFINITY],
  ["decimal", "'12345678901234567890.123456789'::numeric", "12345678901234567890.123456789"],
  ["text", "'héllo ✓ \"quoted\"'::text", 'héllo ✓ "quoted"'],
  ["bytes", "'\\x00ff10'::bytea", new Uint8Array([0, 255, 16])],
  ["date", "'2024-02-29'::date", "2024-02-29"],
  ["time", "'13:14:15.123456'::time", "13:14:15.123456"],
  ["timestamp", "'2024-01-02 03:04:05.678+02'::timestamptz", new Date("2024-01-02T01:04:05.678Z")],
  ["localTimestamp", "'2024-01-02 03:04:05.123456'::timestamp", "2024-01-02T03:04:05.123456"],
  [
    "json",
    `'{"a": [1, "x", null, true], "b": {"c": 2.5}}'::jsonb`,
    { a: [1, "x", null, true], b: { c: 2.5 } },
  ],
  ["array", "ARRAY[1, NULL, 3]::int8[]", [1n, null, 3n]],
  [
    "array (nested text)",
    "ARRAY[['a','b'],['c',NULL]]::text[]",
    [
      ["a", "b"],
      ["c", null],
    ],
  ],
];

/** [kind, parameter, cast, what comes back] on PostgreSQL: sent as a parameter, read back. */
const PG_ROUND_TRIPS: [string, SqlParam, string, SqlValue][] = [
  ["null", null, "int4", null],
  ["bool", false, "bool", false],
  ["int64", -9223372036854775808n, "int8", -9223372036854775808n],
  ["int64 (from a number)", 42, "int8", 42n],
  ["double", 0.1, "float8", 0.1],
  [
    "decimal",
    param.decimal("-0.000000000000000000000000000001"),
    "numeric",
    "-0.000000000000000000000000000001",
  ],
  ["text", "emoji 🚢 and a NUL-free\nnewline", "text", "emoji 🚢 and a NUL-free\nnewline"],
  ["bytes", new Uint8Array([0, 1, 2, 254, 255]), "bytea", new Uint8Array([0, 1, 2, 254, 255])],
  ["date", param.date("1999-12-31"), "date", "1999-12-31"],
  ["time", param.time("23:59:59.999999"), "time", "23:59:59.999999"],
  ["timestamp", new Date("2030-06-15T12:34:56.789Z"), "timestamptz", new Date("2030-06-15T12:34:56.789Z")],
  [
    "localTimestamp",
    param.localTimestamp("2030-06-15T12:34:56.123456"),
    "timestamp",
    "2030-06-15T12:34:56.123456",
  ],
  [
    "json",
    { order: 7, items: ["a", "b"], paid: false },
    "jsonb",
    { order: 7, items: ["a", "b"], paid: false },
  ],
  ["array", [1n, 2n, null], "int8[]", [1n, 2n, null]],
];

for (const transport of ["grpc", "connect"] as const) {
  describe(`PostgreSQL over ${transport}`, () => {
    it("reads every value kind as its JavaScript type", async () => {
      const c = client(transport);
      const sql = `SELECT ${PG_READS.map(([, lit], i) => `${lit} AS v${i}`).join(", ")}`;
      const { rows, columns } = await c.query(pgId, sql);
      assert.equal(rows.length, 1);
      PG_READS.forEach(([kind, , expected], i) => {
        assert.deepEqual(rows[0]![`v${i}`], expected, kind);
      });
      assert.equal(columns[2]!.typeName, "int8");
      assert.equal(columns[7]!.typeName, "numeric");
    });

    it("sends every value kind as a parameter and reads it back unchanged", async () => {
      const c = client(transport);
      const sql = `SELECT ${PG_ROUND_TRIPS.map(([, , cast], i) => `$${i + 1}::${cast} AS v${i}`).join(", ")}`;
      const { rows } = await c.query(
        pgId,
        sql,
        PG_ROUND_TRIPS.map(([, p]) => p),
      );
      PG_ROUND_TRIPS.forEach(([kind, , , expected], i) => {
        assert.deepEqual(rows[0]![`v${i}`], expected, kind);
      });
    });
  });
}

describe("MariaDB", () => {
  it("reads its value kinds as their JavaScript types", async () => {
    const c = client("grpc");
    const { rows } = await c.query(
      myId,
      `SELECT NULL AS n, CAST(9223372036854775807 AS SIGNED) AS i, CAST(1.5 AS DOUBLE) AS d,
              CAST('12345678901234567.123' AS DECIMAL(30,3)) AS dec_, 'héllo ✓' AS t, X'00FF10' AS b,
              DATE '2024-02-29' AS dt, CAST('13:14:15.123456' AS TIME(6)) AS tm,
              CAST('2024-01-02 03:04:05.123456' AS DATETIME(6)) AS ts`,
    );
    assert.deepEqual(rows[0], {
      n: null,
      i: 9223372036854775807n,
      d: 1.5,
      dec_: "12345678901234567.123",
      t: "héllo ✓",
      b: new Uint8Array([0, 255, 16]),
      dt: "2024-02-29",
      tm: "13:14:15.123456",
      ts: "2024-01-02T03:04:05.123456",
    });
  });

  it("sends parameters and reads them back unchanged", async () => {
    const c = client("connect");
    const { rows } = await c.query(
      myId,
      `SELECT ? AS n, CAST(? AS SIGNED) AS i, CAST(? AS DOUBLE) AS d, CAST(? AS DECIMAL(30,3)) AS dec_,
              CAST(? AS CHAR) AS t, CAST(? AS BINARY(3)) AS b, CAST(? AS DATE) AS dt,
              CAST(? AS TIME(6)) AS tm, CAST(? AS DATETIME(6)) AS ts`,
      [
        null,
        -9223372036854775808n,
        0.25,
        param.decimal("-12345678901234567.125"),
        "text ✓",
        new Uint8Array([1, 0, 255]),
        param.date("1999-12-31"),
        param.time("23:59:59.999999"),
        param.localTimestamp("2030-06-15 12:34:56.123456"),
      ],
    );
    assert.deepEqual(rows[0], {
      n: null,
      i: -9223372036854775808n,
      d: 0.25,
      dec_: "-12345678901234567.125",
      t: "text ✓",
      b: new Uint8Array([1, 0, 255]),
      dt: "1999-12-31",
      tm: "23:59:59.999999",
      ts: "2030-06-15T12:34:56.123456",
    });
  });
});
