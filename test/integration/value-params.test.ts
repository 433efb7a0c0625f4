import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import type { Value } from "../../src/gen/berth/v1/values_pb.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");

let b: TestBerth | undefined;
let client: ReturnType<typeof brokerClients>;
const ids: Record<string, string> = {};

beforeAll(async () => {
  if (!hasPostgres && !hasMariadb) return;
  b = await startTestBerth();
  client = brokerClients(b.url, b.adminToken);
  const specs = [
    ["pg", hasPostgres, Engine.POSTGRESQL, LOCAL.postgres.port, "postgres"],
    ["mysql", hasMariadb, Engine.MYSQL, LOCAL.mariadb.port, "root"],
  ] as const;
  for (const [name, available, type, port, username] of specs) {
    if (!available) continue;
    const { connection } = await client.connections.createConnection(
      {
        spec: {
          name: `values-${name}`,
          type,
          server: "127.0.0.1",
          port,
          database: "test",
          username,
          password: "",
        },
      },
      client.call,
    );
    ids[name] = connection!.id;
  }
});
afterAll(async () => b?.close());

// 2024-05-06T07:08:09.123456Z: the microseconds are what a JS Date would drop.
const INSTANT: Value = {
  $typeName: "berth.v1.Value",
  kind: {
    case: "timestamp",
    value: { $typeName: "google.protobuf.Timestamp", seconds: 1714979289n, nanos: 123456000 },
  },
};

async function run(id: string, sql: string, params: Value[] = []) {
  return collect(
    client.broker.execute(
      { target: { case: "connectionId", value: id }, statement: stmt(sql, params) },
      client.call,
    ),
  );
}

async function one(id: string, sql: string, params: Value[] = []) {
  const r = await run(id, sql, params);
  return { kind: r.rows[0]!.values[0]!.kind, type: r.columns[0]!.typeName };
}

/** A MariaDB table for one test, dropped after it. */
async function withTable(columns: string, body: (table: string) => Promise<void>) {
  const table = `value_params_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  await run(ids.mysql!, `CREATE TABLE ${table} (${columns})`);
  try {
    await body(table);
  } finally {
    await run(ids.mysql!, `DROP TABLE ${table}`);
  }
}

describe("parameters and values the engines must not distort", () => {
  it.skipIf(!hasPostgres)("binds a timestamp parameter to the microsecond on PostgreSQL", async () => {
    const { kind } = await one(ids.pg!, "SELECT $1::timestamptz", [INSTANT]);
    expect(kind.case).toBe("timestamp");
    expect(kind.value).toMatchObject({ seconds: 1714979289n, nanos: 123456000 });
  });

  it.skipIf(!hasMariadb)(
    "binds a timestamp parameter as its UTC wall-clock time on MariaDB (strict mode takes it)",
    async () => {
      await withTable("t DATETIME(6)", async (table) => {
        await run(ids.mysql!, `INSERT INTO ${table} VALUES (?)`, [INSTANT]);
        const { kind } = await one(ids.mysql!, `SELECT t FROM ${table}`);
        expect(kind).toEqual({ case: "localTimestamp", value: "2024-05-06T07:08:09.123456" });
      });
    },
  );

  it.skipIf(!hasMariadb)("answers MariaDB's JSON columns as json, with big numbers exact", async () => {
    await withTable("j JSON", async (table) => {
      await run(ids.mysql!, `INSERT INTO ${table} VALUES ('{"a": 12345678901234567891}')`);
      const { kind, type } = await one(ids.mysql!, `SELECT j FROM ${table}`);
      expect(type).toBe("JSON");
      expect(kind).toEqual({ case: "json", value: '{"a": 12345678901234567891}' });
    });
  });
});
