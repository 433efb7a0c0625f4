import { useState } from "react";
import type { Catalog, TableInfo } from "../query/useCatalog.js";
import { Alert } from "./Alert.js";

/** More than this many tables in view and the list asks for a search instead of growing on. */
const SHOWN_TABLES = 300;

/** Schemas → tables and views → columns with their types. Opened one level at a time, searchable. */
export function SchemaBrowser({ catalog }: { catalog: Catalog }) {
  const [search, setSearch] = useState("");
  const [openSchemas, setOpenSchemas] = useState<Set<string>>(new Set());
  const [openTables, setOpenTables] = useState<Set<string>>(new Set());
  const needle = search.trim().toLowerCase();
  const toggle = (set: Set<string>, key: string) => {
    const next = new Set(set);
    if (!next.delete(key)) next.add(key);
    return next;
  };
  const isOpen = (schema: string) =>
    openSchemas.has(schema) !== (schema === catalog.defaultSchema) ||
    (needle !== "" && catalog.schemas.get(schema)?.status === "loaded");

  const openSchema = (schema: string) => {
    const state = catalog.schemas.get(schema);
    if (state?.status === "closed" || state?.status === "failed") void catalog.open(schema);
    setOpenSchemas((s) => toggle(s, schema));
  };

  const matches = (t: TableInfo) =>
    needle === "" ||
    t.name.toLowerCase().includes(needle) ||
    t.columns.some((c) => c.name.toLowerCase().includes(needle));

  return (
    <nav className="schema" aria-label="Schema browser">
      <h2>Schema</h2>
      <label className="sr-only" htmlFor="schema-search">
        Search tables and columns
      </label>
      <input
        id="schema-search"
        type="search"
        placeholder="Search tables and columns"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
      />
      <Alert message={catalog.error} />
      {catalog.schemas.size === 0 && !catalog.error && <p className="muted">Loading schemas…</p>}
      <ul className="tree">
        {[...catalog.schemas].map(([schema, state]) => {
          const tables = state.tables.filter(matches);
          if (needle !== "" && tables.length === 0 && !schema.toLowerCase().includes(needle)) return null;
          const expanded = isOpen(schema);
          return (
            <li key={schema}>
              <button
                type="button"
                className="node"
                aria-expanded={expanded}
                onClick={() => openSchema(schema)}
              >
                {schema}
                {schema === catalog.defaultSchema && <span className="muted"> (default)</span>}
              </button>
              {expanded && state.status === "loading" && <p className="muted">Loading…</p>}
              {expanded && state.error && <Alert message={state.error} />}
              {expanded && state.status === "loaded" && (
                <ul>
                  {state.tables.length === 0 && <li className="muted">No tables or views</li>}
                  {tables.slice(0, SHOWN_TABLES).map((t) => {
                    const key = `${schema}.${t.name}`;
                    const columnMatch =
                      needle !== "" && t.columns.some((c) => c.name.toLowerCase().includes(needle));
                    const tableOpen = openTables.has(key) || columnMatch;
                    return (
                      <li key={t.name}>
                        <button
                          type="button"
                          className="node"
                          aria-expanded={tableOpen}
                          onClick={() => setOpenTables((s) => toggle(s, key))}
                        >
                          {t.name} {t.kind !== "table" && <span className="muted">{t.kind}</span>}
                        </button>
                        {tableOpen && (
                          <ul aria-label={`Columns of ${t.name}`}>
                            {t.columns.map((c) => (
                              <li key={c.name} className="column">
                                <span>{c.name}</span>{" "}
                                <span className="muted">
                                  {c.type}
                                  {c.nullable ? "" : " not null"}
                                </span>
                              </li>
                            ))}
                          </ul>
                        )}
                      </li>
                    );
                  })}
                  {tables.length > SHOWN_TABLES && (
                    <li className="muted">
                      {tables.length - SHOWN_TABLES} more: narrow them with the search
                    </li>
                  )}
                  {state.truncated && <li className="muted">The catalog was cut at its row limit.</li>}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
