import type { Socket } from "node:net";
import { atLeast } from "../access/levels.js";
import type { Principal } from "../identity/principal.js";
import type { Intent } from "../pools/pool-manager.js";
import { authenticate, SignInRefused } from "./authenticate.js";
import type { FrontDoorAuditEvent, FrontDoorDeps } from "./deps.js";
import { frontDoorErrorOf } from "./errors.js";
import { readStartup } from "./startup.js";
import { readStartupOptions, type StartupOptions } from "./startup-options.js";
import { authenticationOk, type ErrorFields, errorResponse } from "./wire.js";

/** What admitting a client needs of the front door that admits it. */
export interface AdmissionContext {
  readonly deps: FrontDoorDeps;
  audit(e: FrontDoorAuditEvent): void;
  signIn(outcome: string): void;
  cancel(processId: number, secretKey: number): void;
  parametersOf(connectionId: string, intent: Intent): Promise<ReadonlyMap<string, string>>;
  closing(): boolean;
}

/** A client that is in: who, on which connection, with what it asked for at startup. */
export interface Admitted {
  readonly socket: Socket;
  readonly principal: Principal;
  readonly connection: { readonly id: string; readonly name: string };
  readonly options: StartupOptions;
  readonly serverParameters: ReadonlyMap<string, string>;
  /** Bytes the client sent after its last sign-in message (a pipelined first query). */
  readonly early: Buffer[];
}

export function fatal(socket: Socket, e: Omit<ErrorFields, "severity">): undefined {
  socket.end(errorResponse({ severity: "FATAL", ...e }));
  return undefined;
}

export const SHUTTING_DOWN = "terminating connection: Berth is shutting down";

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

interface Started {
  socket: Socket;
  principal: Principal;
  database: string;
  options: StartupOptions;
  early: () => Buffer[];
}

/** Startup and sign-in; undefined when the client was answered (refused, cancelled) already. */
async function signIn(raw: Socket, source: string, ctx: AdmissionContext): Promise<Started | undefined> {
  const startup = await readStartup(raw, ctx.deps.tls);
  if (!startup) return undefined;
  if (startup.kind === "cancel") {
    ctx.cancel(startup.processId, startup.secretKey);
    raw.destroy();
    return undefined;
  }
  const { params, reader, socket } = startup;
  const user = params.get("user") ?? "";
  if (user === "")
    return fatal(socket, { code: "28000", message: "no user name given in the startup packet" });
  if (params.has("replication") && params.get("replication") !== "false")
    return fatal(socket, {
      code: "08P01",
      message: "replication connections are not served by Berth's front door",
    });
  const options = readStartupOptions(params);
  if ("error" in options) return fatal(socket, { code: "22023", message: options.error });
  try {
    const principal = await authenticate(
      {
        socket,
        reader,
        user,
        tls: startup.tls,
        cleartextAllowed: startup.tls || isLoopback(raw.remoteAddress),
        source,
      },
      ctx.deps.auth,
    );
    ctx.signIn("ok");
    socket.write(authenticationOk());
    return {
      socket,
      principal,
      database: params.get("database") || user,
      options,
      early: () => reader.detach(),
    };
  } catch (err) {
    if (!(err instanceof SignInRefused)) throw err;
    ctx.signIn(err.reason);
    ctx.audit({
      action: "frontdoor.denied",
      principal: undefined,
      actorName: user.slice(0, 128),
      source,
      connectionId: "",
      outcome: "denied",
      reason: err.reason,
    });
    return fatal(socket, { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
  }
}

/**
 * Startup, sign-in, the connection and the client's level on it, and what the server reports at
 * startup: everything a client needs before its first query. Undefined when the client was refused.
 */
export async function admit(
  raw: Socket,
  source: string,
  ctx: AdmissionContext,
): Promise<Admitted | undefined> {
  const started = await signIn(raw, source, ctx);
  if (!started) return undefined;
  const { socket, principal, database, options } = started;
  const refuse = (
    code: string,
    message: string,
    reason: string,
    connectionId = "",
    outcome: "denied" | "failed" = "denied",
  ) => {
    ctx.audit({
      action: "frontdoor.denied",
      principal,
      actorName: principal.username,
      source,
      connectionId,
      outcome,
      reason,
    });
    return fatal(socket, { code, message });
  };
  const found = await ctx.deps.findConnection(principal, database);
  // An unknown connection and one without a grant look alike, so that names cannot be probed.
  if (!found)
    return refuse(
      "3D000",
      `connection "${database.slice(0, 100)}" does not exist, or you have no access to it`,
      "not_found",
    );
  if (!atLeast(found.level, "user"))
    return refuse(
      "42501",
      `permission denied: your level on connection "${found.name}" is ${found.level}; running statements needs user or above`,
      "permission_denied",
      found.id,
    );
  if (found.type !== "postgresql")
    return refuse(
      "0A000",
      `connection "${found.name}" is a ${found.type} connection; the front door speaks PostgreSQL only (use the gRPC or REST data plane)`,
      "wrong_engine",
      found.id,
    );
  let serverParameters: ReadonlyMap<string, string>;
  try {
    serverParameters = await ctx.parametersOf(found.id, options.intent);
  } catch (err) {
    const e = frontDoorErrorOf(err, found.name);
    ctx.audit({
      action: "frontdoor.denied",
      principal,
      actorName: principal.username,
      source,
      connectionId: found.id,
      outcome: "failed",
      reason: e.code,
    });
    return fatal(socket, { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
  }
  if (ctx.closing()) return fatal(socket, { code: "57P01", message: SHUTTING_DOWN });
  // The connection may ask for session pooling for all its clients; a client may ask for it itself.
  const mode = (await ctx.deps.pools.pool(found.id)).settings.engineOptions.frontDoorPoolMode;
  const sessionPooling = options.sessionPooling || mode === "session";
  return {
    socket,
    principal,
    connection: found,
    options: { ...options, sessionPooling },
    serverParameters,
    early: started.early(),
  };
}
