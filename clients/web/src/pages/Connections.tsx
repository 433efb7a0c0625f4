import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import type { Connection } from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { engineInfo, useConsoleConfig } from "../config.js";
import { problemOf } from "../errors.js";
import { STATUS_LABELS } from "../labels.js";
import { href } from "../router.js";

export function Connections() {
  const config = useConsoleConfig();
  const [connections, setConnections] = useState<Connection[] | undefined>();
  const [error, setError] = useState("");
  useEffect(() => {
    api.connections
      .listConnections({ pageSize: 500 })
      .then((r) => setConnections(r.connections))
      .catch((err) => setError(problemOf(err).message));
  }, []);
  return (
    <main>
      <header className="page-head">
        <h1>Connections</h1>
        <a className="button" href={href("connections/new")}>
          New connection
        </a>
      </header>
      <Alert message={error} />
      {connections?.length === 0 && <p>No connections yet, or none shared with you.</p>}
      {connections && connections.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Engine</th>
                <th scope="col">Host</th>
                <th scope="col">Status</th>
                <th scope="col">Last tested</th>
              </tr>
            </thead>
            <tbody>
              {connections.map((c) => (
                <tr key={c.id}>
                  <td>
                    <a href={href(`connections/${c.id}`)}>{c.name}</a>
                  </td>
                  <td>{engineInfo(config, c.type)?.label ?? "?"}</td>
                  <td>
                    {c.server}
                    {c.instanceName ? `\\${c.instanceName}` : `:${c.port}`}
                  </td>
                  <td>
                    <span className={`badge ${STATUS_LABELS[c.status]}`}>{STATUS_LABELS[c.status]}</span>
                  </td>
                  <td>{c.lastTestedAt ? timestampDate(c.lastTestedAt).toLocaleString() : "never"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
