import { randomInt, timingSafeEqual } from "node:crypto";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { OpenAccess, RevocationReason } from "../access/revocation-watch.js";
import { sourceOf } from "../identity/login-throttle.js";
import type { Intent, PoolManager } from "../pools/pool-manager.js";
import { type AdmissionContext, type Admitted, admit, fatal, SHUTTING_DOWN } from "./admission.js";
import type { FrontDoorAuditEvent, FrontDoorDeps } from "./deps.js";

export type { FrontDoorAuditEvent, FrontDoorDeps, FrontDoorLimits } from "./deps.js";

import { FrontDoorClient } from "./client.js";
import { createFrontDoorMetrics } from "./metrics.js";
import { ProtocolError } from "./startup.js";
import { backendKeyData, parameterStatus, readyForQuery } from "./wire.js";

export interface FrontDoor {
  readonly port: number;
  clients(): readonly FrontDoorClient[];
  /** The open clients, for the revocation watch. */
  openAccess(): OpenAccess[];
  /** Stops accepting; idle clients leave at once, active ones at the end of their transaction or of the grace. */
  close(graceMs: number): Promise<void>;
}

const END_TEXT: Record<RevocationReason | "shutting_down", string> = {
  access_revoked: "terminating connection: access to this connection was revoked",
  signed_out:
    "terminating connection: the account was disabled or deleted, its password changed, or its token revoked",
  expired: "terminating connection: the service token expired",
  shutting_down: SHUTTING_DOWN,
};

/** Server parameters are read from a backend once per connection and kept for this long. */
const SERVER_PARAMETERS_TTL_MS = 300_000;

/** What a client must see of the server at startup, when no backend has reported it yet. */
const REPORTED = [
  "server_version",
  "server_encoding",
  "client_encoding",
  "DateStyle",
  "IntervalStyle",
  "TimeZone",
  "integer_datetimes",
  "standard_conforming_strings",
  "is_superuser",
  "application_name",
];

/** Server parameters a client is not told at startup: the database role's name is a stored credential. */
const WITHHELD = new Set(["session_authorization"]);

/** What a client hears once it is in: the server's parameters (its own settings where it set them), its cancel key, ready. */
function greeting(a: Admitted, processId: number, secretKey: number): Buffer {
  const out: Buffer[] = [];
  for (const name of REPORTED) {
    const value = a.options.reported.get(name) ?? a.serverParameters.get(name);
    if (value !== undefined) out.push(parameterStatus(name, value));
  }
  for (const [name, value] of a.serverParameters)
    if (!REPORTED.includes(name) && !WITHHELD.has(name)) out.push(parameterStatus(name, value));
  out.push(backendKeyData(processId, secretKey), readyForQuery("I"));
  return Buffer.concat(out);
}

export async function startFrontDoor(deps: FrontDoorDeps): Promise<FrontDoor> {
  const clients = new Set<FrontDoorClient>();
  const byProcessId = new Map<number, FrontDoorClient>();
  const perSource = new Map<string, number>();
  let closing = false;
  let nextProcessId = randomInt(1, 1 << 30);
  const metrics = createFrontDoorMetrics(deps.metrics, () => clients);

  const audit = (e: FrontDoorAuditEvent) =>
    void deps
      .audit(e)
      .catch((err) =>
        deps.log.warn({ error: (err as Error).message, action: e.action }, "front-door event not audited"),
      );

  const observer = metrics.observer((client, reason) => {
    clients.delete(client);
    byProcessId.delete(client.identity.processId);
    audit({
      action: "frontdoor.close",
      principal: client.principal,
      actorName: client.principal.username,
      source: client.identity.source,
      connectionId: client.connectionId,
      outcome: "ok",
      reason: `${reason}; ${client.transactions} transactions`,
    });
  });

  const admission: AdmissionContext = {
    deps,
    audit,
    signIn: (outcome) => {
      metrics.signIn(outcome);
      if (outcome !== "ok") deps.onSignInRefused?.(outcome);
    },
    cancel: (processId, secretKey) => cancelFor(byProcessId.get(processId), secretKey),
    parametersOf: serverParametersOf(deps.pools),
    closing: () => closing,
  };

  /** A client that is in: served, registered, greeted (ParameterStatus, BackendKeyData, ReadyForQuery). */
  function serve(a: Admitted, source: string): void {
    // Gone while it was admitted (it hung up, or the startup bound ran out): nothing to serve.
    if (a.socket.destroyed || !a.socket.readable) return;
    const processId = nextProcessId++ & 0x7fffffff || 1;
    const client = new FrontDoorClient(
      a.socket,
      {
        principal: a.principal,
        connectionId: a.connection.id,
        connectionName: a.connection.name,
        intent: a.options.intent,
        sessionPooling: a.options.sessionPooling,
        settings: a.options.settings,
        processId,
        secretKey: randomInt(-(2 ** 31), 2 ** 31 - 1),
        source,
      },
      { pools: deps.pools, observer },
    );
    clients.add(client);
    byProcessId.set(processId, client);
    a.socket.write(greeting(a, processId, client.identity.secretKey));
    audit({
      action: "frontdoor.open",
      principal: a.principal,
      actorName: a.principal.username,
      source,
      connectionId: a.connection.id,
      outcome: "ok",
      reason: a.options.sessionPooling ? "session pooling" : "transaction pooling",
    });
    deps.opened(accessOf(client));
    client.feed(a.early);
  }

  const accessOf = (client: FrontDoorClient): OpenAccess => ({
    principal: client.principal,
    connectionId: client.connectionId,
    end: (why) => client.end(why, END_TEXT[why]),
  });

  function accept(socket: Socket): void {
    const source = sourceOf(socket.remoteAddress ?? "");
    const fromSource = (perSource.get(source) ?? 0) + 1;
    socket.on("error", () => {});
    if (closing) {
      fatal(socket, { code: "57P01", message: END_TEXT.shutting_down });
      return;
    }
    if (clients.size >= deps.limits.maxClients || fromSource > deps.limits.maxClientsPerSource) {
      // As PostgreSQL answers past max_connections: the client hears why.
      fatal(socket, { code: "53300", message: "sorry, too many clients already" });
      socket.setTimeout(1_000, () => socket.destroy());
      return;
    }
    perSource.set(source, fromSource);
    socket.once("close", () => {
      const n = (perSource.get(source) ?? 1) - 1;
      if (n <= 0) perSource.delete(source);
      else perSource.set(source, n);
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const timer = setTimeout(() => socket.destroy(), deps.limits.startupTimeoutMs);
    admit(socket, source, admission)
      .then((admitted) => admitted && serve(admitted, source))
      .catch((err) => {
        if (err instanceof ProtocolError)
          fatal(socket, { code: "08P01", message: `invalid startup: ${err.message}` });
        else {
          deps.log.warn({ error: (err as Error).message }, "front-door startup failed");
          socket.destroy();
        }
      })
      .finally(() => clearTimeout(timer));
  }

  const server: Server = createServer({ noDelay: true, pauseOnConnect: false }, accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    clients: () => [...clients],
    openAccess: () => [...clients].map(accessOf),
    async close(graceMs) {
      closing = true;
      server.close();
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && [...clients].some((c) => c.state !== "idle")) {
        for (const c of clients) if (c.state === "idle") await c.end("shutting_down", END_TEXT.shutting_down);
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all([...clients].map((c) => c.end("shutting_down", END_TEXT.shutting_down)));
    },
  };
}

/** A CancelRequest: the client's statement is cancelled when the key is its own. */
function cancelFor(client: FrontDoorClient | undefined, secretKey: number): void {
  if (!client) return;
  const a = Buffer.alloc(4);
  const b = Buffer.alloc(4);
  a.writeInt32BE(client.identity.secretKey);
  b.writeInt32BE(secretKey);
  if (timingSafeEqual(a, b)) client.cancel();
}

/** The parameters a connection's server reports at sign-in, read from one of its backends and kept a while. */
function serverParametersOf(pools: PoolManager) {
  const known = new Map<string, { at: number; params: ReadonlyMap<string, string> }>();
  return async (connectionId: string, intent: Intent): Promise<ReadonlyMap<string, string>> => {
    const hit = known.get(connectionId);
    if (hit && Date.now() - hit.at < SERVER_PARAMETERS_TTL_MS) return hit.params;
    const { pool, pooled } = await pools.acquire(connectionId, intent, { acceptState: true });
    const params = pooled.session.wire?.().serverParameters ?? new Map<string, string>();
    pool.releaseKept(pooled);
    known.set(connectionId, { at: Date.now(), params });
    return params;
  };
}
