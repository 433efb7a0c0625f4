import { lazy, Suspense, useMemo, useRef, useState } from "react";
import { Engine } from "../../../../src/gen/berth/v1/types_pb.js";
import { Alert } from "../components/Alert.js";
import { download } from "../components/browser-io.js";
import { RowsTable } from "../components/RowsTable.js";
import { SchemaBrowser } from "../components/SchemaBrowser.js";
import type { SqlEditorHandle } from "../components/SqlEditor.js";
import { ENGINE_VALUES } from "../config.js";
import { csvParts, jsonParts } from "../query/export.js";
import { clearHistory, type HistoryEntry, readHistory, remember } from "../query/history.js";
import { type EngineId, parameterLabels } from "../query/statements.js";
import { useCatalog } from "../query/useCatalog.js";
import { type ParamInput, useExecution } from "../query/useExecution.js";

// CodeMirror is most of the query console's weight: loaded when the console first opens.
const SqlEditor = lazy(() => import("../components/SqlEditor.js"));

const DEFAULT_MAX_ROWS = 100_000;
const DEFAULT_TIMEOUT_MS = 30_000;

const engineId = (engine: Engine): EngineId =>
  (Object.entries(ENGINE_VALUES).find(([, v]) => v === engine)?.[0] as EngineId | undefined) ?? "postgresql";

const stamp = () => new Date().toISOString().slice(0, 19).replaceAll(":", "-");

/**
 * A statement (the one at the cursor, or the selection) on a pooled session; rows stream into a
 * virtualized grid; Cancel stops it on the server. Beside it the schema browser, whose tables and
 * columns the editor completes.
 */
export function QueryConsole({
  connectionId,
  engine = Engine.POSTGRESQL,
}: {
  connectionId: string;
  engine?: Engine;
}) {
  const id = engineId(engine);
  const editor = useRef<SqlEditorHandle>(null);
  const [doc, setDoc] = useState("SELECT 1");
  const [maxRows, setMaxRows] = useState(String(DEFAULT_MAX_ROWS));
  const [timeoutMs, setTimeoutMs] = useState(String(DEFAULT_TIMEOUT_MS));
  const [params, setParams] = useState<ParamInput[]>([]);
  const [history, setHistory] = useState<HistoryEntry[]>(() => readHistory(connectionId));
  const [notice, setNotice] = useState("");
  const catalog = useCatalog(connectionId, id);
  const exec = useExecution(connectionId);
  const { columns, rows, done, running } = exec;
  const labels = useMemo(() => parameterLabels(doc, id), [doc, id]);

  const run = () => {
    if (running) return;
    const sql = editor.current?.target() ?? "";
    if (sql === "") {
      setNotice("Nothing to run: write a statement, or put the cursor in one.");
      return;
    }
    setNotice("");
    setHistory(remember(connectionId, sql));
    const count = parameterLabels(sql, id).length;
    const values = labels.map((_, i) => params[i] ?? { text: "", isNull: false }).slice(0, count);
    void exec.run({ sql, params: values, maxRows: Number(maxRows) || 0, timeoutMs: Number(timeoutMs) || 0 });
  };
  const setParam = (i: number, p: Partial<ParamInput>) =>
    setParams((all) => {
      const next = labels.map((_, j) => all[j] ?? { text: "", isNull: false });
      next[i] = { ...next[i]!, ...p };
      return next;
    });
  const exportAs = (kind: "csv" | "json") =>
    kind === "csv"
      ? download(csvParts(columns, rows), `result-${stamp()}.csv`, "text/csv;charset=utf-8")
      : download(jsonParts(columns, rows), `result-${stamp()}.json`, "application/json");

  return (
    <section aria-label="Query console" className="query">
      <SchemaBrowser catalog={catalog} />
      <div className="query-main">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            run();
          }}
        >
          <p className="label">
            Statement{" "}
            <span className="muted">(Ctrl+Enter runs the statement at the cursor, or the selection)</span>
          </p>
          <Suspense fallback={<p className="muted sql-editor">Loading the editor…</p>}>
            <SqlEditor
              ref={editor}
              engine={id}
              initialDoc={doc}
              schema={catalog.namespace}
              defaultSchema={catalog.defaultSchema}
              columnsByTable={catalog.columnsByTable}
              onChange={setDoc}
              onRun={run}
            />
          </Suspense>
          {labels.length > 0 && (
            <fieldset className="params">
              <legend>Parameters</legend>
              {labels.map((label, i) => (
                <div key={label} className="param">
                  <label>
                    {label}
                    <input
                      value={params[i]?.text ?? ""}
                      disabled={params[i]?.isNull}
                      onChange={(e) => setParam(i, { text: e.target.value })}
                    />
                  </label>
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={params[i]?.isNull ?? false}
                      onChange={(e) => setParam(i, { isNull: e.target.checked })}
                    />
                    NULL
                  </label>
                </div>
              ))}
            </fieldset>
          )}
          <div className="row">
            <label>
              Row limit
              <input inputMode="numeric" value={maxRows} onChange={(e) => setMaxRows(e.target.value)} />
            </label>
            <label>
              Time limit (ms)
              <input inputMode="numeric" value={timeoutMs} onChange={(e) => setTimeoutMs(e.target.value)} />
            </label>
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={running}>
              Run <span className="muted">(Ctrl+Enter)</span>
            </button>
            <button type="button" onClick={exec.cancel} disabled={!running}>
              Cancel
            </button>
          </div>
        </form>
        <HistoryList
          history={history}
          onPick={(sql) => {
            editor.current?.setDoc(sql);
            editor.current?.focus();
          }}
          onClear={() => {
            clearHistory(connectionId);
            setHistory([]);
          }}
        />
        <div className="result-bar">
          <p role="status" className="muted" data-testid="query-status">
            {running && `Running… ${rows.length.toLocaleString("en-US")} rows so far`}
            {!running &&
              done &&
              `${Number(done.rowsReturned).toLocaleString("en-US")} ${done.rowsReturned === 1n ? "row" : "rows"} · ${done.commandTag} · ${done.durationMs.toFixed(1)} ms${
                done.truncated ? ` · cut at the row limit (${exec.limit.toLocaleString("en-US")})` : ""
              }`}
          </p>
          {columns.length > 0 && (
            <div className="actions">
              <button type="button" onClick={() => exportAs("csv")} disabled={running}>
                Export CSV
              </button>
              <button type="button" onClick={() => exportAs("json")} disabled={running}>
                Export JSON
              </button>
            </div>
          )}
        </div>
        {done?.truncated && !running && (
          <p className="warn" data-testid="truncated">
            More rows than the row limit: the grid and the exports hold the first{" "}
            {exec.limit.toLocaleString("en-US")}.
          </p>
        )}
        <Alert message={exec.error || notice} />
        {columns.length > 0 && <RowsTable key={exec.runId} columns={columns} rows={rows} />}
      </div>
    </section>
  );
}

/** What ran on this connection in this browser, newest first; a pick goes back into the editor. */
function HistoryList({
  history,
  onPick,
  onClear,
}: {
  history: HistoryEntry[];
  onPick(sql: string): void;
  onClear(): void;
}) {
  return (
    <details className="history">
      <summary>History ({history.length})</summary>
      {history.length === 0 ? (
        <p className="muted">Statements you run here are kept in this browser, for this connection.</p>
      ) : (
        <>
          <ol>
            {history.map((h) => (
              <li key={h.sql}>
                <button type="button" className="link" title={h.sql} onClick={() => onPick(h.sql)}>
                  {h.sql}
                </button>{" "}
                <span className="muted">{new Date(h.at).toLocaleString()}</span>
              </li>
            ))}
          </ol>
          <button type="button" onClick={onClear}>
            Clear history
          </button>
        </>
      )}
    </details>
  );
}
