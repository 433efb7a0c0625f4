import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useMemo, useState } from "react";
import type { ConnectionHealth } from "../../../../src/gen/berth/v1/connection_service_pb.js";
import { type CheckResult, type Connection, Engine } from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { CheckList } from "../components/CheckList.js";
import { CHART_COLORS, type ChartSeries, TimeChart } from "../components/TimeChart.js";
import { problemOf } from "../errors.js";
import { STATUS_LABELS } from "../labels.js";
import { FrontDoorClientsSection } from "./FrontDoorClients.js";
import { HostsTable } from "./HostsTable.js";
import { appendSample, hostLatencies, type StatusSample, sampleOf, WINDOW } from "./status-history.js";

const INTERVAL_MS = 2000;

/** The status stream, and the page's own rolling window of its snapshots (Berth keeps no history). */
function useStatusStream(connectionId: string) {
  const [health, setHealth] = useState<ConnectionHealth | undefined>();
  const [history, setHistory] = useState<StatusSample[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      try {
        for await (const r of api.connections.watchConnectionStatus(
          { id: connectionId, intervalMs: INTERVAL_MS },
          { signal: abort.signal },
        )) {
          const h = r.health;
          if (!h) continue;
          setHealth(h);
          setHistory((old) => appendSample(old, sampleOf(h)));
        }
      } catch (err) {
        if (!abort.signal.aborted) setError(problemOf(err).message);
      }
    })();
    return () => abort.abort();
  }, [connectionId]);
  return { health, history, error };
}

function PoolCharts({ history }: { history: StatusSample[] }) {
  const charts = useMemo(() => {
    const times = history.map((s) => s.t);
    const one = (label: string, pick: (s: StatusSample) => number | null, color: string): ChartSeries => ({
      label,
      values: history.map(pick),
      color,
    });
    return {
      times,
      wait: [one("Acquire wait p95", (s) => s.waitP95, CHART_COLORS[0])],
      query: [one("Statement latency p95", (s) => s.queryP95, CHART_COLORS[1])],
      sessions: [
        { ...one("In use", (s) => s.inUse, CHART_COLORS[0]), digits: 0 },
        { ...one("Idle", (s) => s.idle, CHART_COLORS[2]), digits: 0 },
        { ...one("Waiting", (s) => s.waiting, CHART_COLORS[1]), digits: 0 },
      ],
    };
  }, [history]);
  const minutes = Math.round((WINDOW * INTERVAL_MS) / 60_000);
  return (
    <section className="charts" aria-label="Pool over time">
      <TimeChart
        title="Acquire wait p95"
        description="wait for a pooled session, 95th percentile over the last minute"
        unit="ms"
        yLabel="milliseconds"
        times={charts.times}
        series={charts.wait}
      />
      <TimeChart
        title="Statement latency p95"
        description="statement durations, 95th percentile over the last minute"
        unit="ms"
        yLabel="milliseconds"
        times={charts.times}
        series={charts.query}
      />
      <TimeChart
        title="Sessions"
        description="in use, idle, and callers waiting for one"
        unit="sessions"
        yLabel="sessions"
        times={charts.times}
        series={charts.sessions}
      />
      <p className="muted chart-note">
        Drawn from this page's own snapshots, every {INTERVAL_MS / 1000} s while it is open (the last{" "}
        {minutes} minutes at most): Berth keeps no history of these numbers. Hover a chart, or focus it and
        use ← →, to read a point.
      </p>
    </section>
  );
}

/** Live status from WatchConnectionStatus, with charts of the snapshots since the page opened. */
export function StatusTab({
  connection,
  canReset,
  username,
}: {
  connection: Connection;
  canReset: boolean;
  username: string | undefined;
}) {
  const stream = useStatusStream(connection.id);
  const { health, history } = stream;
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const latencies = useMemo(() => hostLatencies(history), [history]);

  const reset = async () => {
    try {
      await api.connections.resetPool({ id: connection.id });
      setNote("The pool was drained and recreated.");
    } catch (err) {
      setError(problemOf(err).message);
    }
  };
  const [check, setCheck] = useState<CheckResult | undefined>();
  const [testing, setTesting] = useState(false);
  const testNow = async () => {
    setTesting(true);
    setError("");
    try {
      setCheck(
        (await api.connections.testConnection({ target: { case: "id", value: connection.id } })).result,
      );
    } catch (err) {
      const p = problemOf(err);
      if (p.check) setCheck(p.check);
      else setError(p.message);
    } finally {
      setTesting(false);
    }
  };

  const status = health ? STATUS_LABELS[health.status] : STATUS_LABELS[connection.status];
  const pool = health?.pool;
  return (
    <section aria-label="Status">
      <Alert message={error || stream.error} />
      <p>
        Status:{" "}
        <span className={`badge ${status}`} data-testid="status">
          {status}
        </span>{" "}
        {health?.lastTestedAt && (
          <span className="muted">last tested {timestampDate(health.lastTestedAt).toLocaleString()}</span>
        )}
      </p>
      {pool ? (
        <dl className="stats" aria-label="Pool">
          <div>
            <dt>Pool size</dt>
            <dd data-testid="pool-size">
              {pool.size} / {pool.maxSize}
            </dd>
          </div>
          <div>
            <dt>Idle</dt>
            <dd data-testid="pool-idle">{pool.idle}</dd>
          </div>
          <div>
            <dt>In use</dt>
            <dd data-testid="pool-in-use">{pool.inUse}</dd>
          </div>
          <div>
            <dt>Opening</dt>
            <dd data-testid="pool-opening">{pool.opening}</dd>
          </div>
          <div>
            <dt>Waiting</dt>
            <dd data-testid="pool-waiting">{pool.waiting}</dd>
          </div>
          <div>
            <dt>Statements (last minute)</dt>
            <dd>{pool.queriesLastMinute}</dd>
          </div>
        </dl>
      ) : (
        <p className="muted">
          No pool is open on this instance yet: it opens with the first statement or lease.
        </p>
      )}
      {history.length > 1 && <PoolCharts history={history} />}
      {health && health.hosts.length > 0 && <HostsTable health={health} latencies={latencies} />}
      {/* The front door serves PostgreSQL connections only; its numbers come with the status stream. */}
      {health && connection.type === Engine.POSTGRESQL && (
        <FrontDoorClientsSection
          clients={health.frontDoor}
          connectionName={connection.name}
          username={username}
        />
      )}
      <div className="actions">
        {canReset && (
          <button type="button" onClick={testNow} disabled={testing}>
            {testing ? "Testing…" : "Test now"}
          </button>
        )}
        {canReset && (
          <button type="button" onClick={reset}>
            Reset pool
          </button>
        )}
      </div>
      {note && <p role="status">{note}</p>}
      {check && <CheckList result={check} />}
    </section>
  );
}
