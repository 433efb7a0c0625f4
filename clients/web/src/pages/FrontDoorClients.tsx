import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { FrontDoorClients } from "../../../../src/gen/berth/v1/connection_service_pb.js";
import { ScrollBox } from "../components/ScrollBox.js";

/** A libpq connection-string value: quoted when it has spaces, quotes or backslashes. */
function conninfoValue(v: string): string {
  return /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * The PostgreSQL front door's clients of this connection on this Berth instance, from the status
 * stream: how many are idle, waiting for a backend, holding one, pinned to one; and who they are.
 * `clients` is undefined when the front door is off on this instance.
 */
export function FrontDoorClientsSection({
  clients,
  connectionName,
  username,
}: {
  clients: FrontDoorClients | undefined;
  connectionName: string;
  username: string | undefined;
}) {
  const total = clients ? clients.idle + clients.waiting + clients.active : 0;
  return (
    <section aria-labelledby="front-door-title" className="front-door">
      <h2 id="front-door-title">Front-door clients</h2>
      {!clients ? (
        <p className="muted">
          The PostgreSQL front door is off on this Berth instance: it listens on the port set by
          BERTH_PG_PORT.
        </p>
      ) : (
        <>
          <dl className="stats" aria-label="Front-door clients by state">
            <div>
              <dt>Active</dt>
              <dd data-testid="fd-active">{clients.active}</dd>
            </div>
            <div>
              <dt>Waiting</dt>
              <dd data-testid="fd-waiting">{clients.waiting}</dd>
            </div>
            <div>
              <dt>Idle</dt>
              <dd data-testid="fd-idle">{clients.idle}</dd>
            </div>
            <div>
              <dt>Pinned</dt>
              <dd data-testid="fd-pinned">{clients.pinned}</dd>
            </div>
          </dl>
          {total === 0 ? (
            <HowToConnect connectionName={connectionName} username={username} />
          ) : clients.clients.length === 0 ? (
            <p className="muted">Who is connected, and from where, is shown to the connection's admins.</p>
          ) : (
            <ClientTable clients={clients} total={total} />
          )}
        </>
      )}
    </section>
  );
}

function ClientTable({ clients, total }: { clients: FrontDoorClients; total: number }) {
  return (
    <>
      <ScrollBox label="Front-door clients, scrolls sideways">
        <table aria-label="Front-door clients">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Source</th>
              <th scope="col">State</th>
              <th scope="col">Pinned</th>
              <th scope="col">Since</th>
              <th scope="col">Transactions</th>
            </tr>
          </thead>
          <tbody>
            {clients.clients.map((c, i) => (
              // Clients have no id of their own here; one user may have several from one address.
              // biome-ignore lint/suspicious/noArrayIndexKey: the list is replaced whole at every snapshot
              <tr key={i}>
                <td>
                  {c.username}
                  {c.principalKind === "service" && <span className="muted"> (service token)</span>}
                </td>
                <td>{c.source}</td>
                <td>{c.state}</td>
                <td>{c.pinnedWhy || "—"}</td>
                <td>{c.connectedAt ? timestampDate(c.connectedAt).toLocaleString() : "—"}</td>
                <td>{c.transactions.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
      {total > clients.clients.length && (
        <p className="muted">
          Showing {clients.clients.length} of {total}: those holding or waiting for a backend first, then the
          longest connected.
        </p>
      )}
    </>
  );
}

/** The empty state: any PostgreSQL client connects with Berth's user and password, the connection as the database. */
function HowToConnect({
  connectionName,
  username,
}: {
  connectionName: string;
  username: string | undefined;
}) {
  const host = conninfoValue(window.location.hostname);
  const command = `psql "host=${host} port=<port> dbname=${conninfoValue(connectionName)} user=${
    username ? conninfoValue(username) : "<your user>"
  }"`;
  return (
    <div className="empty" data-testid="fd-empty">
      <p>
        No client is connected through the PostgreSQL front door. psql or any PostgreSQL driver connects with:
      </p>
      <pre className="command">
        <code>{command}</code>
      </pre>
      <p className="muted">
        where &lt;port&gt; is the port set by BERTH_PG_PORT, and the password is your Berth password (or a
        service token, with the token's name as the user).
      </p>
    </div>
  );
}
