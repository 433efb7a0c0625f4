import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { AccessLevel, type ConnectionAccess } from "../../../../src/gen/berth/v1/access_service_pb.js";
import type { ServiceToken } from "../../../../src/gen/berth/v1/token_service_pb.js";
import type { User } from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { ScrollBox } from "../components/ScrollBox.js";
import { problemOf } from "../errors.js";
import { LEVELS, levelLabel } from "../labels.js";
import { TokensTable } from "./TokensTable.js";

/** Grants on one connection: to a user or a Google address, with a level; revoke. */
export function AccessTab({ connectionId, isGlobalAdmin }: { connectionId: string; isGlobalAdmin: boolean }) {
  const [grants, setGrants] = useState<ConnectionAccess[]>([]);
  const [users, setUsers] = useState<User[]>([]);
  const [tokens, setTokens] = useState<ServiceToken[] | undefined>();
  const [who, setWho] = useState("");
  const [level, setLevel] = useState(AccessLevel.VIEWER);
  const [error, setError] = useState("");
  const load = useCallback(() => {
    api.access
      .listAccess({ connectionId })
      .then((r) => setGrants(r.access))
      .catch((err) => setError(problemOf(err).message));
  }, [connectionId]);
  useEffect(() => {
    load();
    // The user list is for global admins; others grant by user id or Google address.
    if (isGlobalAdmin) {
      api.users
        .listUsers({})
        .then((r) => setUsers(r.users))
        .catch(() => {});
      // Tokens are for global admins too: those whose scope includes this connection.
      api.tokens
        .listServiceTokens({})
        .then((r) => setTokens(r.serviceTokens.filter((t) => t.connectionIds.includes(connectionId))))
        .catch(() => {});
    }
  }, [load, isGlobalAdmin, connectionId]);
  // The list carries each grantee's name (connection admins may not list users).
  const nameOf = (g: ConnectionAccess) =>
    g.googleEmail ?? (g.username || users.find((u) => u.id === g.userId)?.username || g.userId) ?? "?";

  const grant = async (e: FormEvent) => {
    e.preventDefault();
    setError("");
    const target = who.trim();
    const user = users.find((u) => u.username === target || u.id === target);
    try {
      await api.access.grantAccess({
        connectionId,
        accessLevel: level,
        grantee: target.includes("@")
          ? { case: "googleEmail", value: target }
          : { case: "userId", value: user?.id ?? target },
      });
      setWho("");
      load();
    } catch (err) {
      setError(problemOf(err).message);
    }
  };
  const revoke = async (g: ConnectionAccess) => {
    setError("");
    try {
      await api.access.revokeAccess({
        connectionId,
        grantee: g.googleEmail
          ? { case: "googleEmail", value: g.googleEmail }
          : { case: "userId", value: g.userId! },
      });
      load();
    } catch (err) {
      setError(problemOf(err).message);
    }
  };

  return (
    <section aria-label="Access">
      <Alert message={error} />
      <ScrollBox label="Grants, scrolls sideways">
        <table aria-label="Grants">
          <thead>
            <tr>
              <th scope="col">Who</th>
              <th scope="col">Level</th>
              <th scope="col">Granted</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {grants.map((g) => (
              <tr key={g.userId ?? g.googleEmail}>
                <td>{nameOf(g)}</td>
                <td>{levelLabel(g.accessLevel)}</td>
                <td>{g.assignedAt ? timestampDate(g.assignedAt).toLocaleDateString() : "—"}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => revoke(g)}
                    aria-label={`Revoke access of ${nameOf(g)}`}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
      <form onSubmit={grant} className="row" aria-label="Grant access">
        <label>
          User or Google address
          <input
            name="grantee"
            list="berth-users"
            value={who}
            onChange={(e) => setWho(e.target.value)}
            placeholder="username or name@example.com"
            required
          />
          <datalist id="berth-users">
            {users.map((u) => (
              <option key={u.id} value={u.username} />
            ))}
          </datalist>
        </label>
        <label>
          Level
          <select
            name="level"
            value={level}
            onChange={(e) => setLevel(Number(e.target.value) as AccessLevel)}
          >
            {LEVELS.map((l) => (
              <option key={l.value} value={l.value}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Grant</button>
      </form>
      {tokens && <TokensTable tokens={tokens} />}
    </section>
  );
}
