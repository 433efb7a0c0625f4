import { useEffect, useState } from "react";
import type { AuditEvent } from "../../../../src/gen/berth/v1/audit_service_pb.js";
import { api } from "../api.js";

/** Who and what the ids in the audit log are: users, service tokens, connections. */
export interface Directory {
  users: Map<string, string>;
  tokens: Map<string, string>;
  connections: Map<string, string>;
}

const empty = (): Directory => ({ users: new Map(), tokens: new Map(), connections: new Map() });

/**
 * The names the caller may read: every connection they see; users and tokens for global admins
 * (a connection's admins get the names the events carry, actor_name, instead).
 */
export function useDirectory(globalAdmin: boolean): Directory {
  const [dir, setDir] = useState<Directory>(empty);
  useEffect(() => {
    let live = true;
    const ignore = () => undefined;
    // Others are not asked for users and tokens: each refusal would be a denial in the audit log.
    Promise.all([
      globalAdmin ? api.users.listUsers({}).catch(ignore) : undefined,
      globalAdmin ? api.tokens.listServiceTokens({}).catch(ignore) : undefined,
      api.connections.listConnections({}).catch(ignore),
    ]).then(([users, tokens, connections]) => {
      if (!live) return;
      setDir({
        users: new Map((users?.users ?? []).map((u) => [u.id, u.username])),
        tokens: new Map((tokens?.serviceTokens ?? []).map((t) => [t.id, t.name])),
        connections: new Map((connections?.connections ?? []).map((c) => [c.id, c.name])),
      });
    });
    return () => {
      live = false;
    };
  }, [globalAdmin]);
  return dir;
}

export interface Named {
  name: string;
  /** What kind of thing it is, in words ("user", "service token", "connection"), or "". */
  kind: string;
  /** The id, for the title (hover) and for copying. */
  id: string;
}

/** The actor: a user's name, a service token's name, or what the event recorded. */
export function actorOf(e: AuditEvent, dir: Directory): Named {
  const id = e.actorId;
  if (id.startsWith("service:")) {
    const token = id.slice("service:".length);
    return { name: dir.tokens.get(token) ?? (e.actorName || token), kind: "service token", id };
  }
  if (id === "anonymous" || id === "") return { name: "anonymous", kind: "", id };
  return { name: dir.users.get(id) ?? (e.actorName || id), kind: "user", id };
}

/** The target: a connection, user or token by its name; otherwise (a lease, a key) as recorded. */
export function targetOf(e: AuditEvent, dir: Directory): Named | undefined {
  const id = e.target;
  if (!id) return undefined;
  const connection = dir.connections.get(id);
  if (connection) return { name: connection, kind: "connection", id };
  const user = dir.users.get(id);
  if (user) return { name: user, kind: "user", id };
  const token = dir.tokens.get(id);
  if (token) return { name: token, kind: "service token", id };
  return { name: id, kind: "", id };
}

/** The method without its package: "ConnectionService/TestConnection" reads as "Test connection". */
export function actionLabel(action: string): { service: string; method: string } {
  const [service = "", method = action] = action.replace(/^berth\.v1\./, "").split("/");
  if (!action.includes("/")) return { service: "", method: action };
  return { service: service.replace(/Service$/, ""), method: method.replace(/([a-z])([A-Z])/g, "$1 $2") };
}
