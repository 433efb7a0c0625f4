import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import { AccessLevel } from "../../../../src/gen/berth/v1/access_service_pb.js";
import type { ConnectionHealth } from "../../../../src/gen/berth/v1/connection_service_pb.js";
import {
  type CheckResult,
  type Connection,
  Engine,
  type User,
} from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { CheckList } from "../components/CheckList.js";
import { Sparkline } from "../components/Sparkline.js";
import { engineInfo, useConsoleConfig } from "../config.js";
import { problemOf } from "../errors.js";
import { levelLabel, STATUS_LABELS } from "../labels.js";
import { go, href } from "../router.js";
import { AccessTab } from "./AccessTab.js";
import { AuditList } from "./Audit.js";
import { ConnectionForm } from "./ConnectionForm.js";
import { FrontDoorClientsSection } from "./FrontDoorClients.js";
import { HostsTable } from "./HostsTable.js";
import { QueryConsole } from "./QueryConsole.js";

const TABS = ["status", "query", "access", "audit", "settings"] as const;
type Tab = (typeof TABS)[number];

export function ConnectionPage({
  id,
  tab,
  me,
}: {
  id: string;
  tab: string | undefined;
  me: User | undefined;
}) {
  const config = useConsoleConfig();
  const [connection, setConnection] = useState<Connection | undefined>();
  const [level, setLevel] = useState(AccessLevel.UNSPECIFIED);
  const [error, setError] = useState("");
  useEffect(() => {
    api.connections
      .getConnection({ id })
      .then((r) => {
        setConnection(r.connection);
        setLevel(r.accessLevel);
      })
      .catch((err) => setError(problemOf(err).message));
  }, [id]);

  if (error)
    return (
      <main>
        <Alert message={error} />
        <a href={href("connections")}>Back to connections</a>
      </main>
    );
  if (!connection) return <main aria-busy="true">Loading…</main>;

  const isAdmin = me?.role === "admin";
  const can = (needed: AccessLevel) => level >= needed;
  const visible: Tab[] = TABS.filter(
    (t) =>
      t === "status" ||
      (t === "query" && can(AccessLevel.USER)) ||
      (t === "access" && can(AccessLevel.ADMIN)) ||
      (t === "audit" && (isAdmin || can(AccessLevel.ADMIN))) ||
      (t === "settings" && can(AccessLevel.EDITOR)),
  );
  const current: Tab = visible.includes(tab as Tab) ? (tab as Tab) : "status";

  const remove = async () => {
    if (
      !window.confirm(
        `Delete the connection "${connection.name}"? Its pool closes and its grants are removed.`,
      )
    )
      return;
    try {
      await api.connections.deleteConnection({ id, expectedVersion: connection.version });
      go("connections");
    } catch (err) {
      setError(problemOf(err).message);
    }
  };

  return (
    <main>
      <header className="page-head">
        <div>
          <h1>{connection.name}</h1>
          <p className="muted">
            {engineInfo(config, connection.type)?.label} · {connection.server}
            {connection.instanceName ? `\\${connection.instanceName}` : `:${connection.port}`} ·{" "}
            {connection.database} · your access: {levelLabel(level)}
          </p>
        </div>
        {can(AccessLevel.ADMIN) && (
          <button type="button" className="danger" onClick={remove}>
            Delete
          </button>
        )}
      </header>
      <nav className="tabs" aria-label="Connection">
        {visible.map((t) => (
          <a key={t} href={href(`connections/${id}/${t}`)} aria-current={t === current ? "page" : undefined}>
            {t === "query" ? "Query console" : t[0]!.toUpperCase() + t.slice(1)}
          </a>
        ))}
      </nav>
      {current === "status" && (
        <StatusTab connection={connection} canReset={can(AccessLevel.USER)} username={me?.username} />
      )}
      {current === "query" && <QueryConsole connectionId={id} engine={connection.type} />}
      {current === "access" && <AccessTab connectionId={id} isGlobalAdmin={isAdmin} />}
      {current === "audit" && <AuditList connectionId={id} />}
      {current === "settings" && <ConnectionForm existing={connection} />}
    </main>
  );
}

/** Live status from WatchConnectionStatus, and the last minutes of latency drawn from its snapshots. */
function StatusTab({
  connection,
  canReset,
  username,
}: {
  connection: Connection;
  canReset: boolean;
  username: string | undefined;
}) {
  const [health, setHealth] = useState<ConnectionHealth | undefined>();
  const [history, setHistory] = useState<{ wait: number; query: number }[]>([]);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      try {
        for await (const r of api.connections.watchConnectionStatus(
          { id: connection.id, intervalMs: 2000 },
          { signal: abort.signal },
        )) {
          setHealth(r.health);
          const p = r.health?.pool;
          // 2 s apart, five minutes' worth.
          if (p) setHistory((h) => [...h, { wait: p.acquireWaitP95Ms, query: p.queryP95Ms }].slice(-150));
        }
      } catch (err) {
        if (!abort.signal.aborted) setError(problemOf(err).message);
      }
    })();
    return () => abort.abort();
  }, [connection.id]);

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
      <Alert message={error} />
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
      {history.length > 1 && (
        <div className="charts">
          <Sparkline values={history.map((h) => h.wait)} label="Acquire wait p95" unit="ms" />
          <Sparkline values={history.map((h) => h.query)} label="Query latency p95" unit="ms" />
        </div>
      )}
      {health && health.hosts.length > 0 && <HostsTable health={health} />}
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
