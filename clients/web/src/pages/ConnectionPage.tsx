import { useEffect, useState } from "react";
import { AccessLevel } from "../../../../src/gen/berth/v1/access_service_pb.js";
import type { Connection, User } from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { engineInfo, useConsoleConfig } from "../config.js";
import { problemOf } from "../errors.js";
import { levelLabel } from "../labels.js";
import { go, href } from "../router.js";
import { AccessTab } from "./AccessTab.js";
import { AuditList } from "./Audit.js";
import { ConnectionForm } from "./ConnectionForm.js";
import { QueryConsole } from "./QueryConsole.js";
import { StatusTab } from "./StatusTab.js";

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
      {current === "audit" && <AuditList connectionId={id} globalAdmin={isAdmin} />}
      {current === "settings" && <ConnectionForm existing={connection} onSaved={setConnection} />}
    </main>
  );
}
