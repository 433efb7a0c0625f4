import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import type { AuditEvent, VerifyAuditLogResponse } from "../../../../src/gen/berth/v1/audit_service_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { problemOf } from "../errors.js";

export function AuditList({ connectionId }: { connectionId?: string }) {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    api.audit
      .listAuditEvents({ connectionId: connectionId ?? "", pageSize: 1000 })
      .then((r) => setEvents(r.events.slice().reverse()))
      .catch((err) => setError(problemOf(err).message));
  }, [connectionId]);
  return (
    <section aria-label="Audit events">
      <Alert message={error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Outcome</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={String(e.seq)}>
                <td>{String(e.seq)}</td>
                <td>{e.at ? timestampDate(e.at).toLocaleString() : ""}</td>
                <td>{e.actorName || e.actorId}</td>
                <td>
                  {e.action.replace(/^berth\.v1\./, "")}
                  {e.target && !connectionId ? <span className="muted"> {e.target}</span> : null}
                </td>
                <td>
                  {e.outcome}
                  {e.reason ? <span className="muted"> {e.reason}</span> : null}
                </td>
                <td>
                  {e.transport} {e.source}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The whole log, for global admins, with a check of its hash chain. */
export function AuditPage() {
  const [verify, setVerify] = useState<VerifyAuditLogResponse | undefined>();
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
      {verify && (
        <p role="status" className={verify.ok ? "ok" : "bad"}>
          {verify.ok
            ? `The chain is intact: ${String(verify.checked)} events checked.`
            : `Broken at event ${String(verify.firstBrokenSeq)}: ${verify.problem}`}
        </p>
      )}
      <Alert message={error} />
      <AuditList />
    </main>
  );
}
