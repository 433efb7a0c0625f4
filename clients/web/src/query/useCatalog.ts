import type { Completion } from "@codemirror/autocomplete";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Intent } from "../../../../src/gen/berth/v1/broker_service_pb.js";
import type { Row } from "../../../../src/gen/berth/v1/values_pb.js";
import { api } from "../api.js";
import { problemOf } from "../errors.js";
import { CATALOG, isNullableFlag } from "./catalog.js";
import type { EngineId } from "./statements.js";
import { show } from "./values.js";

/** A catalog has its limits too: a schema of more columns than this is cut, and says so. */
const CATALOG_MAX_ROWS = 20_000;

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
}
export interface TableInfo {
  name: string;
  kind: string;
  columns: ColumnInfo[];
}
export interface SchemaState {
  status: "closed" | "loading" | "loaded" | "failed";
  tables: TableInfo[];
  truncated: boolean;
  error?: string;
}

/** Runs a catalog query through Execute (as a read: a replica may serve it) and returns its rows. */
async function runCatalog(connectionId: string, sql: string, params: string[]) {
  const rows: Row[] = [];
  let truncated = false;
  for await (const m of api.broker.execute({
    target: { case: "connectionId", value: connectionId },
    intent: Intent.READ,
    statement: {
      sql,
      params: params.map((p) => ({ kind: { case: "text", value: p } })),
      maxRows: BigInt(CATALOG_MAX_ROWS),
    },
  })) {
    if (m.rows) rows.push(...m.rows.rows);
    if (m.complete?.truncated) truncated = true;
  }
  return { rows: rows.map((r) => r.values.map(show)), truncated };
}

/**
 * The schema browser's data: the schemas at once, a schema's tables and their columns when it is
 * opened (the default schema opens by itself, so completion knows its tables from the start).
 */
export function useCatalog(connectionId: string, engine: EngineId) {
  const [schemas, setSchemas] = useState<Map<string, SchemaState>>(new Map());
  const [defaultSchema, setDefaultSchema] = useState<string | undefined>();
  const [error, setError] = useState("");
  const queries = CATALOG[engine];

  const open = useCallback(
    async (name: string) => {
      const set = (s: SchemaState) => setSchemas((m) => new Map(m).set(name, s));
      set({ status: "loading", tables: [], truncated: false });
      try {
        const [tables, columns] = await Promise.all([
          runCatalog(connectionId, queries.tables, Array(queries.schemaParams.tables).fill(name)),
          runCatalog(connectionId, queries.columns, Array(queries.schemaParams.columns).fill(name)),
        ]);
        const byTable = new Map<string, ColumnInfo[]>();
        for (const [table = "", column = "", type = "", nullable = ""] of columns.rows) {
          const list = byTable.get(table) ?? [];
          list.push({ name: column, type, nullable: isNullableFlag(nullable) });
          byTable.set(table, list);
        }
        set({
          status: "loaded",
          tables: tables.rows.map(([t = "", kind = "table"]) => ({
            name: t,
            kind,
            columns: byTable.get(t) ?? [],
          })),
          truncated: tables.truncated || columns.truncated,
        });
      } catch (err) {
        set({ status: "failed", tables: [], truncated: false, error: problemOf(err).message });
      }
    },
    [connectionId, queries],
  );

  useEffect(() => {
    let gone = false;
    (async () => {
      try {
        const [found, current] = await Promise.all([
          runCatalog(connectionId, queries.schemas, []),
          runCatalog(connectionId, queries.defaultSchema, []),
        ]);
        if (gone) return;
        const names = found.rows.map(([n = ""]) => n);
        const initial = current.rows[0]?.[0];
        setSchemas(new Map(names.map((n) => [n, { status: "closed", tables: [], truncated: false }])));
        if (initial && initial !== "NULL" && names.includes(initial)) {
          setDefaultSchema(initial);
          void open(initial);
        }
      } catch (err) {
        if (!gone) setError(problemOf(err).message);
      }
    })();
    return () => {
      gone = true;
    };
  }, [connectionId, queries, open]);

  /** For the editor: lang-sql's namespace, and columns by table for completion after FROM. */
  const completion = useMemo(() => {
    const namespace: Record<string, Record<string, Completion[]>> = {};
    const columnsByTable = new Map<string, Completion[]>();
    for (const [schema, state] of schemas) {
      const tables: Record<string, Completion[]> = {};
      for (const t of state.tables) {
        const options = t.columns.map((c) => ({
          label: c.name,
          type: "property",
          detail: `${c.type} · ${t.name}`,
        }));
        tables[t.name] = options;
        // The default schema's table wins a name that two schemas share.
        if (schema === defaultSchema || !columnsByTable.has(t.name.toLowerCase()))
          columnsByTable.set(t.name.toLowerCase(), options);
      }
      namespace[schema] = tables;
    }
    return { namespace, columnsByTable };
  }, [schemas, defaultSchema]);

  return { schemas, defaultSchema, error, open, ...completion };
}

export type Catalog = ReturnType<typeof useCatalog>;
