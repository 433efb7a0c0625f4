import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import type { AuditEvent, VerifyAuditLogResponse } from "../../../../src/gen/berth/v1/audit_service_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { problemOf } from "../errors.js";
import { actionLabel, actorOf, type Directory, targetOf, useDirectory } from "./audit-names.js";

const PAGE = 50;
const OUTCOMES = ["ok", "denied", "failed", "cancelled"];

interface Filters {
  actorId: string;
  connectionId: string;
  outcome: string;
  /** datetime-local values (the browser's time zone), or "". */
  since: string;
  until: string;
}

const NO_FILTERS: Filters = { actorId: "", connectionId: "", outcome: "", since: "", until: "" };

const stamp = (local: string) => (local ? timestampFromDate(new Date(local)) : undefined);

/** Newest first, PAGE at a time: `cursors` holds each page's before_seq, so Newer goes back one. */
function useAuditPage(filters: Filters, fixedConnection: string | undefined, start: bigint) {
  const [cursors, setCursors] = useState<bigint[]>([start]);
  // The events with the query they answer: until the answer to the current one is in, it is loading.
  const [page, setPage] = useState<{ key: string; events: AuditEvent[]; hasOlder: boolean }>({
    key: "",
    events: [],
    hasOlder: false,
  });
  const [error, setError] = useState("");
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new filter or start point begins at its first page.
  useEffect(() => setCursors([start]), [filters, start]);
  const before = cursors.at(-1) ?? 0n;
  const key = JSON.stringify([filters, fixedConnection ?? "", String(before)]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` is filters, connection and cursor together.
  useEffect(() => {
    let live = true;
    api.audit
      .listAuditEvents({
        connectionId: fixedConnection ?? filters.connectionId,
        actorId: filters.actorId,
        outcome: filters.outcome,
        since: stamp(filters.since),
        until: stamp(filters.until),
        beforeSeq: before,
        newestFirst: true,
        // One more than shown: whether there is an older page.
        pageSize: PAGE + 1,
      })
      .then((r) => {
        if (!live) return;
        setPage({ key, events: r.events.slice(0, PAGE), hasOlder: r.events.length > PAGE });
        setError("");
      })
      .catch((err) => {
        if (!live) return;
        setError(problemOf(err).message);
        setPage({ key, events: [], hasOlder: false });
      });
    return () => {
      live = false;
    };
  }, [key]);
  const { events, hasOlder } = page;
  const loading = page.key !== key;
  return {
    events,
    error,
    loading,
    page: cursors.length,
    older: hasOlder && !loading ? () => setCursors((c) => [...c, events.at(-1)!.seq]) : undefined,
    newer: cursors.length > 1 ? () => setCursors((c) => c.slice(0, -1)) : undefined,
  };
}

function FilterBar({
  filters,
  onChange,
  dir,
  seen,
  withConnection,
}: {
  filters: Filters;
  onChange: (f: Filters) => void;
  dir: Directory;
  seen: AuditEvent[];
  withConnection: boolean;
}) {
  const set = (k: keyof Filters) => (e: { target: { value: string } }) =>
    onChange({ ...filters, [k]: e.target.value });
  // Actors: every user and token the caller may list, and whoever appears on the page.
  const actors = new Map<string, string>();
  for (const [id, name] of dir.users) actors.set(id, name);
  for (const [id, name] of dir.tokens) actors.set(`service:${id}`, `${name} (token)`);
  for (const e of seen) if (!actors.has(e.actorId)) actors.set(e.actorId, actorOf(e, dir).name);
  const sorted = [...actors].sort((a, b) => a[1].localeCompare(b[1]));
  return (
    <form className="audit-filters" aria-label="Filter audit events" onSubmit={(e) => e.preventDefault()}>
      <label>
        Actor
        <select value={filters.actorId} onChange={set("actorId")}>
          <option value="">anyone</option>
          {sorted.map(([id, name]) => (
            <option key={id} value={id}>
              {name}
            </option>
          ))}
        </select>
      </label>
      {withConnection && (
        <label>
          Connection
          <select value={filters.connectionId} onChange={set("connectionId")}>
            <option value="">any</option>
            {[...dir.connections].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        Outcome
        <select value={filters.outcome} onChange={set("outcome")}>
          <option value="">any</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </label>
      <label>
        From
        <input type="datetime-local" value={filters.since} onChange={set("since")} />
      </label>
      <label>
        Until
        <input type="datetime-local" value={filters.until} onChange={set("until")} />
      </label>
      <button type="button" onClick={() => onChange(NO_FILTERS)}>
        Clear filters
      </button>
    </form>
  );
}

function EventRow({ e, dir, broken }: { e: AuditEvent; dir: Directory; broken: boolean }) {
  const actor = actorOf(e, dir);
  const target = targetOf(e, dir);
  const action = actionLabel(e.action);
  return (
    <tr className={broken ? "broken" : undefined} data-seq={String(e.seq)}>
      <td data-label="When">
        <span>
          {e.at ? timestampDate(e.at).toLocaleString() : ""}
          <span className="muted"> #{String(e.seq)}</span>
          {broken && <strong className="bad"> first broken link</strong>}
        </span>
      </td>
      <td data-label="Who" title={actor.id}>
        <span>
          {actor.name}
          {actor.kind && actor.kind !== "user" && <span className="muted"> {actor.kind}</span>}
        </span>
      </td>
      <td data-label="Action">
        <span>
          {action.method}
          {action.service && <span className="muted"> · {action.service}</span>}
        </span>
      </td>
      <td data-label="Target" title={target?.id}>
        <span>
          {target ? target.name : "—"}
          {target?.kind && <span className="muted"> {target.kind}</span>}
        </span>
      </td>
      <td data-label="Outcome">
        <span>
          <span className={`badge outcome-${e.outcome}`}>{e.outcome}</span>
          {e.reason && <span className="muted"> {e.reason}</span>}
        </span>
      </td>
      <td data-label="From">
        <span>
          {e.source} <span className="muted">{e.transport}</span>
        </span>
      </td>
    </tr>
  );
}

/**
 * Audit events, newest first, with names for ids, filters and paging. On a connection's page
 * (connectionId) only its events; `brokenSeq` jumps to that event and marks it.
 */
export function AuditList({
  connectionId,
  brokenSeq,
  globalAdmin = true,
}: {
  connectionId?: string;
  brokenSeq?: bigint;
  /** Whether the reader may list users and tokens (for their names). */
  globalAdmin?: boolean;
}) {
  const dir = useDirectory(globalAdmin);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  // To show the broken event: its page starts right at it.
  const start = brokenSeq ? brokenSeq + 1n : 0n;
  const list = useAuditPage(filters, connectionId, start);
  return (
    <section aria-label="Audit events" className="audit">
      <FilterBar
        filters={filters}
        onChange={setFilters}
        dir={dir}
        seen={list.events}
        withConnection={!connectionId}
      />
      <Alert message={list.error} />
      <div className="table-wrap audit-wrap">
        <table className="audit-table" aria-label="Audit events" aria-busy={list.loading}>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {list.events.map((e) => (
              <EventRow key={String(e.seq)} e={e} dir={dir} broken={e.seq === brokenSeq} />
            ))}
          </tbody>
        </table>
        {!list.loading && list.events.length === 0 && (
          <p className="muted empty">No events match these filters.</p>
        )}
      </div>
      <nav className="pager" aria-label="Audit pages">
        <button type="button" onClick={list.newer} disabled={!list.newer}>
          ← Newer
        </button>
        <span data-testid="audit-page">
          Page {list.page}
          {/* The range once this page's events are in (not the last page's, while loading). */}
          {list.loading
            ? " · loading…"
            : list.events.length > 0 &&
              ` · events #${String(list.events.at(-1)!.seq)}–#${String(list.events[0]!.seq)}`}
        </span>
        <button type="button" onClick={list.older} disabled={!list.older}>
          Older →
        </button>
      </nav>
    </section>
  );
}

function VerifyResult({ verify, onShow }: { verify: VerifyAuditLogResponse; onShow: () => void }) {
  if (verify.ok)
    return (
      <p role="status" className="ok">
        The chain is intact: {String(verify.checked)} events checked.
      </p>
    );
  return (
    <div role="alert" className="verify-broken">
      <p className="bad">
        The chain is broken at event #{String(verify.firstBrokenSeq)}: {verify.problem}
      </p>
      <p>
        Every event from #{String(verify.firstBrokenSeq)} on can no longer be trusted: restore the store from
        a backup, or keep this log as evidence.{" "}
        <button type="button" onClick={onShow}>
          Show event #{String(verify.firstBrokenSeq)}
        </button>
      </p>
    </div>
  );
}

/** The whole log, for global admins, with a check of its hash chain. */
export function AuditPage() {
  const [verify, setVerify] = useState<VerifyAuditLogResponse | undefined>();
  const [shown, setShown] = useState<bigint | undefined>();
  const [error, setError] = useState("");
  const run = async () => {
    setError("");
    try {
      setVerify(await api.audit.verifyAuditLog({}));
    } catch (err) {
      setError(problemOf(err).message);
    }
  };
  return (
    <main>
      <header className="page-head">
        <h1>Audit log</h1>
        <button type="button" onClick={run}>
          Verify
        </button>
      </header>
      {verify && <VerifyResult verify={verify} onShow={() => setShown(verify.firstBrokenSeq)} />}
      <Alert message={error} />
      <AuditList key={String(shown ?? "")} brokenSeq={shown} />
    </main>
  );
}
