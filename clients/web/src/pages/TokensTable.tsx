import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceToken } from "../../../../src/gen/berth/v1/token_service_pb.js";
import { ScrollBox } from "../components/ScrollBox.js";
import { levelLabel } from "../labels.js";

const dateOf = (t: ServiceToken["expiresAt"]) => (t ? timestampDate(t).toLocaleDateString() : "—");

/** The service tokens whose scope includes a connection: by name, with the most they may do. */
export function TokensTable({ tokens }: { tokens: ServiceToken[] }) {
  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">Service tokens that reach this connection</h2>
      {tokens.length === 0 ? (
        <p className="muted">None. Global admins create them with the API (POST /api/tokens).</p>
      ) : (
        <ScrollBox label="Service tokens, scrolls sideways">
          <table aria-label="Service tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Level</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id}>
                  <td title={t.id}>{t.name}</td>
                  <td>{levelLabel(t.accessLevel)}</td>
                  <td>{dateOf(t.expiresAt)}</td>
                  <td>{t.revokedAt ? `revoked ${dateOf(t.revokedAt)}` : "active"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  );
}
