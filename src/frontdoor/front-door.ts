import { randomInt, timingSafeEqual } from "node:crypto";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Registry } from "prom-client";
import { atLeast, type AccessLevel } from "../access/levels.js";
import type { OpenAccess, RevocationReason } from "../access/revocation-watch.js";
import { sourceOf } from "../identity/login-throttle.js";
import type { Principal } from "../identity/principal.js";
import type { Logger } from "../observability/logger.js";
import type { Intent, PoolManager } from "../pools/pool-manager.js";
import { type AuthenticateDeps, authenticate, SignInRefused } from "./authenticate.js";
import { FrontDoorClient } from "./client.js";
import { frontDoorErrorOf } from "./errors.js";
import { createFrontDoorMetrics } from "./metrics.js";
import { type FrontDoorTls, ProtocolError, readStartup } from "./startup.js";
import { readStartupOptions } from "./startup-options.js";
import { authenticationOk, backendKeyData, errorResponse, type ErrorFields, parameterStatus, readyForQuery } from "./wire.js";

export interface FrontDoorLimits {
  /** Clients connected at once, across sources. */
  readonly maxClients: number;
  /** Clients from one address (an IPv6 client by its /64). */
  readonly maxClientsPerSource: number;
  /** Startup and sign-in must be done within this. */
  readonly startupTimeoutMs: number;
}

export interface FrontDoorAuditEvent {
  readonly action: "frontdoor.open" | "frontdoor.close" | "frontdoor.denied";
  readonly principal: Principal | undefined;
  readonly actorName: string;
  readonly source: string;
  readonly connectionId: string;
  readonly outcome: "ok" | "denied" | "failed";
  readonly reason: string;
}

export interface FrontDoorDeps {
  readonly host: string;
  readonly port: number;
  readonly tls: () => FrontDoorTls | undefined;
  readonly pools: PoolManager;
  findConnection(
    principal: Principal,
    nameOrId: string,
  ): Promise<{ id: string; name: string; type: string; level: AccessLevel } | undefined>;
  readonly auth: AuthenticateDeps;
  audit(event: FrontDoorAuditEvent): Promise<void>;
  /** Told when a client opened: it is re-checked if its access changed while it was signing in. */
  opened(access: OpenAccess): void;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly limits: FrontDoorLimits;
}

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
  signed_out: "terminating connection: the account was disabled or deleted, its password changed, or its token revoked",
  expired: "terminating connection: the service token expired",
  shutting_down: "terminating connection: Berth is shutting down",
};

/** Server parameters are read from a backend once per connection and kept for this long. */
const SERVER_PARAMETERS_TTL_MS = 300_000;

/** What a client must see of the server at startup, when no backend has reported it yet. */
const REPORTED = ["server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
  "integer_datetimes", "standard_conforming_strings", "is_superuser", "session_authorization", "application_name"];

function fatal(socket: Socket, e: Omit<ErrorFields, "severity">): void {
  socket.end(errorResponse({ severity: "FATAL", ...e }));
}

export async function startFrontDoor(deps: FrontDoorDeps): Promise<FrontDoor> {
  const clients = new Set<FrontDoorClient>();
  const byProcessId = new Map<number, FrontDoorClient>();
  const perSource = new Map<string, number>();
  const serverParams = new Map<string, { at: number; params: ReadonlyMap<string, string> }>();
  let closing = false;
  let nextProcessId = randomInt(1, 1 << 30);
  const metrics = createFrontDoorMetrics(deps.metrics, () => clients);

  const audit = (e: FrontDoorAuditEvent) =>
    void deps.audit(e).catch((err) => deps.log.warn({ error: (err as Error).message, action: e.action }, "front-door event not audited"));

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

  async function parametersOf(connectionId: string, intent: Intent): Promise<ReadonlyMap<string, string>> {
    const known = serverParams.get(connectionId);
    if (known && Date.now() - known.at < SERVER_PARAMETERS_TTL_MS) return known.params;
    const { pool, pooled } = await deps.pools.acquire(connectionId, intent, { acceptState: true });
    const params = pooled.session.wire?.().serverParameters ?? new Map<string, string>();
    void pool.release(pooled, { reset: false });
    serverParams.set(connectionId, { at: Date.now(), params });
    return params;
  }

  function cancel(processId: number, secretKey: number): void {
    const client = byProcessId.get(processId);
    if (!client) return;
    const a = Buffer.alloc(4);
    const b = Buffer.alloc(4);
    a.writeInt32BE(client.identity.secretKey);
    b.writeInt32BE(secretKey);
    if (timingSafeEqual(a, b)) client.cancel();
  }

  /** Startup, sign-in, the connection and the client's level on it; then the client is served. */
  async function admit(socket: Socket, source: string): Promise<void> {
    const startup = await readStartup(socket, deps.tls);
    if (!startup) return;
    if (startup.kind === "cancel") {
      cancel(startup.processId, startup.secretKey);
      socket.destroy();
      return;
    }
    const { params, reader } = startup;
    const conn = startup.socket;
    const user = params.get("user") ?? "";
    const database = params.get("database") || user;
    if (user === "") return fatal(conn, { code: "28000", message: "no user name given in the startup packet" });
    if (params.has("replication") && params.get("replication") !== "false")
      return fatal(conn, { code: "08P01", message: "replication connections are not served by Berth's front door" });
    const options = readStartupOptions(params);
    if ("error" in options) return fatal(conn, { code: "22023", message: options.error });
    let principal: Principal;
    try {
      principal = await authenticate(
        {
          socket: conn,
          reader,
          user,
          tls: startup.tls,
          cleartextAllowed: startup.tls || isLoopback(socket.remoteAddress),
          source,
        },
        deps.auth,
      );
    } catch (err) {
      if (!(err instanceof SignInRefused)) throw err;
      metrics.signIn(err.reason);
      audit({ action: "frontdoor.denied", principal: undefined, actorName: user.slice(0, 128), source, connectionId: "", outcome: "denied", reason: err.reason });
      return fatal(conn, { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    }
    metrics.signIn("ok");
    conn.write(authenticationOk());
    const found = await deps.findConnection(principal, database);
    const denied = (code: string, message: string, reason: string, connectionId = "") => {
      audit({ action: "frontdoor.denied", principal, actorName: principal.username, source, connectionId, outcome: "denied", reason });
      fatal(conn, { code, message });
    };
    if (!found)
      return denied("3D000", `connection "${database.slice(0, 100)}" does not exist, or you have no access to it`, "not_found");
    if (!atLeast(found.level, "user"))
      return denied("42501", `permission denied: your level on connection "${found.name}" is ${found.level}; running statements needs user or above`, "permission_denied", found.id);
    if (found.type !== "postgresql")
      return denied("0A000", `connection "${found.name}" is a ${found.type} connection; the front door speaks PostgreSQL only (use the gRPC or REST data plane)`, "wrong_engine", found.id);
    let serverParameters: ReadonlyMap<string, string>;
    try {
      serverParameters = await parametersOf(found.id, options.intent);
    } catch (err) {
      const e = frontDoorErrorOf(err, found.name);
      audit({ action: "frontdoor.denied", principal, actorName: principal.username, source, connectionId: found.id, outcome: "failed", reason: e.code });
      return fatal(conn, { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    }
    if (closing) return fatal(conn, { code: "57P01", message: END_TEXT.shutting_down });
    const processId = nextProcessId++ & 0x7fffffff || 1;
    const client = new FrontDoorClient(
      conn,
      {
        principal,
        connectionId: found.id,
        connectionName: found.name,
        intent: options.intent,
        sessionPooling: options.sessionPooling,
        settings: options.settings,
        processId,
        secretKey: randomInt(-(2 ** 31), 2 ** 31 - 1),
        source,
      },
      { pools: deps.pools, observer },
    );
    clients.add(client);
    byProcessId.set(processId, client);
    const greeting: Buffer[] = [];
    for (const name of REPORTED) {
      const value = options.reported.get(name) ?? serverParameters.get(name);
      if (value !== undefined) greeting.push(parameterStatus(name, value));
    }
    for (const [name, value] of serverParameters) if (!REPORTED.includes(name)) greeting.push(parameterStatus(name, value));
    greeting.push(backendKeyData(processId, client.identity.secretKey), readyForQuery("I"));
    conn.write(Buffer.concat(greeting));
    audit({ action: "frontdoor.open", principal, actorName: principal.username, source, connectionId: found.id, outcome: "ok", reason: options.sessionPooling ? "session pooling" : "transaction pooling" });
    deps.opened(accessOf(client));
    client.feed(reader.detach());
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
    if (closing) return fatal(socket, { code: "57P01", message: END_TEXT.shutting_down });
    if (clients.size >= deps.limits.maxClients || fromSource > deps.limits.maxClientsPerSource) {
      socket.destroy();
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
    admit(socket, source)
      .catch((err) => {
        if (err instanceof ProtocolError) fatal(socket, { code: "08P01", message: `invalid startup: ${err.message}` });
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

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
