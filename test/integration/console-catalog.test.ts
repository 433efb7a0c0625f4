import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CATALOG, isNullableFlag } from "../../clients/web/src/query/catalog.js";
import type { EngineId } from "../../clients/web/src/query/statements.js";
import { show } from "../../clients/web/src/query/values.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { brokerClients, collect, stmt } from "../support/broker-client.js";
import { LOCAL, serviceAvailable } from "../support/services.js";
import { startTestBerth, type TestBerth } from "../support/test-berth.js";

const hasPostgres = await serviceAvailable("postgres");
const hasMariadb = await serviceAvailable("mariadb");
const SCHEMA = `console_catalog_${Date.now().toString(36)}`;

let b: TestBerth | undefined;
let client: ReturnType<typeof brokerClients>;
const ids: Partial<Record<EngineId, string>> = {};

/** Rows of a statement as the console's schema browser reads them: text per value. */
async function rows(engine: EngineId, sql: string, params: string[] = []) {
  const r = await collect(
    client.broker.execute(
      {
        target: { case: "connectionId", value: ids[engine]! },
        statement: stmt(
          sql,
          params.map((p) => ({ $typeName: "berth.v1.Value", kind: { case: "text", value: p } })),
        ),
      },
      client.call,
    ),
  );
  return r.rows.map((row) => row.values.map(show));
}

beforeAll(async () => {
  if (!hasPostgres && !hasMariadb) return;
  b = await startTestBerth();
  client = brokerClients(b.url, b.adminToken);
  const specs = [
    ["postgresql", hasPostgres, Engine.POSTGRESQL, LOCAL.postgres.port, "postgres"],
    ["mysql", hasMariadb, Engine.MYSQL, LOCAL.mariadb.port, "root"],
  ] as const;
  for (const [engine, available, type, port, username] of specs) {
    if (!available) continue;
    const { connection } = await client.connections.createConnection(
      {
        spec: {
          name: `catalog-${engine}`,
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
    ids[engine] = connection!.id;
    const create = engine === "postgresql" ? "CREATE SCHEMA" : "CREATE DATABASE";
    await rows(engine, `${create} ${SCHEMA}`);
    await rows(
      engine,
      `CREATE TABLE ${SCHEMA}.items (id int NOT NULL, label varchar(40), price decimal(10,2))`,
    );
    await rows(engine, `CREATE VIEW ${SCHEMA}.cheap AS SELECT id, label FROM ${SCHEMA}.items`);
  }
});
afterAll(async () => {
  if (ids.postgresql) await rows("postgresql", `DROP SCHEMA ${SCHEMA} CASCADE`);
  if (ids.mysql) await rows("mysql", `DROP DATABASE ${SCHEMA}`);
  await b?.close();
});

/**
 * The schema browser's catalog queries (clients/web/src/query/catalog.ts) on the real engines,
 * through Berth's Execute as the console runs them: schemas, tables and views, columns with types.
 */
describe.each([
  ["postgresql", hasPostgres, "public", ["integer", "character varying(40)", "numeric(10,2)"]],
  ["mysql", hasMariadb, "test", ["int(11)", "varchar(40)", "decimal(10,2)"]],
] as const)("the console's catalog queries on %s", (engine, available, defaultSchema, types) => {
  const q = CATALOG[engine];
  it.skipIf(!available)("lists the schemas and says which is the default", async () => {
    expect((await rows(engine, q.schemas)).map(([n]) => n)).toContain(SCHEMA);
    expect(await rows(engine, q.defaultSchema)).toEqual([[defaultSchema]]);
  });
  it.skipIf(!available)("lists a schema's tables and views, the name bound as a parameter", async () => {
    expect(await rows(engine, q.tables, Array(q.schemaParams.tables).fill(SCHEMA))).toEqual([
      ["cheap", "view"],
      ["items", "table"],
    ]);
    // A name that is not a schema (nor SQL spliced into the text) finds nothing.
    expect(await rows(engine, q.tables, Array(q.schemaParams.tables).fill(`${SCHEMA}' OR '1'='1`))).toEqual(
      [],
    );
  });
  it.skipIf(!available)(
    "lists the columns of every table and view, in order, with types and nullability",
    async () => {
      const columns = await rows(engine, q.columns, Array(q.schemaParams.columns).fill(SCHEMA));
      const items = columns
        .filter(([t]) => t === "items")
        .map(([, n, type, nullable]) => [n, type, isNullableFlag(nullable!)]);
      expect(items).toEqual([
        ["id", types[0], false],
        ["label", types[1], true],
        ["price", types[2], true],
      ]);
      expect(columns.filter(([t]) => t === "cheap").map(([, n]) => n)).toEqual(["id", "label"]);
    },
  );
});
