import { type FormEvent, useRef, useState } from "react";
import type { Completion } from "../../../../src/gen/berth/v1/broker_service_pb.js";
import type { Column, Row } from "../../../../src/gen/berth/v1/values_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { RowsTable } from "../components/RowsTable.js";
import { problemOf } from "../errors.js";

const DEFAULT_MAX_ROWS = 100_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/** One statement on a pooled session; rows stream into a virtualized grid; Cancel stops it on the server. */
export function QueryConsole({ connectionId }: { connectionId: string }) {
  const [sql, setSql] = useState("SELECT 1");
  const [maxRows, setMaxRows] = useState(String(DEFAULT_MAX_ROWS));
  const [timeoutMs, setTimeoutMs] = useState(String(DEFAULT_TIMEOUT_MS));
  const [columns, setColumns] = useState<Column[]>([]);
  const [rows, setRows] = useState<Row[]>([]);
  const [done, setDone] = useState<Completion | undefined>();
  const [error, setError] = useState("");
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    const controller = new AbortController();
    abort.current = controller;
    setRunning(true);
    setError("");
    setColumns([]);
    setRows([]);
    setDone(undefined);
    // Rows are gathered per message and rendered in batches: a re-render per row would stall the page.
    let buffer: Row[] = [];
    let flushed = performance.now();
    try {
      for await (const m of api.broker.execute(
        {
          target: { case: "connectionId", value: connectionId },
          statement: { sql, maxRows: BigInt(Number(maxRows) || 0), timeoutMs: Number(timeoutMs) || 0 },
        },
        { signal: controller.signal },
      )) {
        if (m.columns) setColumns(m.columns.columns);
        if (m.rows) buffer.push(...m.rows.rows);
        if (buffer.length > 0 && (m.complete || performance.now() - flushed > 100)) {
          const batch = buffer;
          buffer = [];
          flushed = performance.now();
          setRows((r) => r.concat(batch));
        }
        if (m.complete) setDone(m.complete);
      }
    } catch (err) {
      setError(
        controller.signal.aborted
          ? "Cancelled: the statement was stopped on the server."
          : problemOf(err).message,
      );
    } finally {
      if (buffer.length > 0) setRows((r) => r.concat(buffer));
      setRunning(false);
    }
  };

  return (
    <section aria-label="Query console" className="query">
      <form onSubmit={run}>
        <label htmlFor="sql">Statement</label>
        <textarea
          id="sql"
          rows={4}
          value={sql}
          spellCheck={false}
          onChange={(e) => setSql(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
          }}
        />
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
          <button type="button" onClick={() => abort.current?.abort()} disabled={!running}>
            Cancel
          </button>
        </div>
      </form>
      <p role="status" className="muted" data-testid="query-status">
        {running && `Running… ${rows.length.toLocaleString("en-US")} rows so far`}
        {!running &&
          done &&
          `${Number(done.rowsReturned).toLocaleString("en-US")} ${done.rowsReturned === 1n ? "row" : "rows"} · ${done.commandTag} · ${done.durationMs.toFixed(1)} ms${
            done.truncated ? ` · cut at the row limit (${Number(maxRows).toLocaleString("en-US")})` : ""
          }`}
      </p>
      <Alert message={error} />
      {columns.length > 0 && <RowsTable columns={columns} rows={rows} />}
    </section>
  );
}
