import { useRef, useState } from "react";
import type { Completion } from "../../../../src/gen/berth/v1/broker_service_pb.js";
import type { Column, Row } from "../../../../src/gen/berth/v1/values_pb.js";
import { api } from "../api.js";
import { problemOf } from "../errors.js";

/** A parameter as the form holds it: text, or NULL. */
export interface ParamInput {
  text: string;
  isNull: boolean;
}

export interface RunRequest {
  sql: string;
  params: ParamInput[];
  maxRows: number;
  timeoutMs: number;
}

/**
 * One statement on a pooled session (Execute), its rows gathered into the page: the grid and the
 * exports read the same result. Cancel stops it on the server.
 */
export function useExecution(connectionId: string) {
  const [columns, setColumns] = useState<Column[]>([]);
  const [rows, setRows] = useState<Row[]>([]);
  const [done, setDone] = useState<Completion | undefined>();
  const [error, setError] = useState("");
  const [running, setRunning] = useState(false);
  /** The row limit the result was run with (the status line names it when rows were cut). */
  const [limit, setLimit] = useState(0);
  const abort = useRef<AbortController | undefined>(undefined);
  /** Counts runs: the grid is keyed by it, so a new result starts with its own widths and pick. */
  const [runId, setRunId] = useState(0);

  const run = async (req: RunRequest) => {
    const controller = new AbortController();
    abort.current = controller;
    setRunning(true);
    setError("");
    setColumns([]);
    setRows([]);
    setDone(undefined);
    setLimit(req.maxRows);
    setRunId((n) => n + 1);
    // Rows are gathered per message and rendered in batches: a re-render per row would stall the page.
    let buffer: Row[] = [];
    let flushed = performance.now();
    try {
      for await (const m of api.broker.execute(
        {
          target: { case: "connectionId", value: connectionId },
          statement: {
            sql: req.sql,
            params: req.params.map((p) =>
              p.isNull ? { kind: { case: "null", value: true } } : { kind: { case: "text", value: p.text } },
            ),
            maxRows: BigInt(req.maxRows),
            timeoutMs: req.timeoutMs,
          },
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

  return { columns, rows, done, error, running, limit, runId, run, cancel: () => abort.current?.abort() };
}
