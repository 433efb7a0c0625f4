import type { BackendState } from "./backend.js";
import type { ClientStatement, ClientStatements } from "./prepared.js";
import type { ResponseTracker } from "./responses.js";
import { classifyStatement, type SettingChange } from "./statement-kind.js";
import { closeComplete, cstringBytes, message, parseComplete, readCString } from "./wire.js";

/** What handling one client message needs of its client. */
export interface RequestContext {
  readonly tracker: ResponseTracker;
  readonly statements: ClientStatements;
  readonly backend: BackendState;
  /** The transaction status the client last saw. */
  readonly txStatus: string;
  /** Keeps the backend for the rest of the client's session. */
  pin(why: string): void;
  /** Settings a Query changed, once it succeeded outside a transaction. */
  settingsChanged(changes: readonly SettingChange[]): void;
  /** The backend forgot its prepared statements (and, for DISCARD ALL, its settings). */
  forgotPrepared(sql: string): void;
}

/** Forward the message as it came; replace it with these bytes (none: swallow it); or end the client. */
export type RequestOutcome = undefined | Buffer[] | "terminate";

const SYNC = { ends: "Z", sync: true, drop: false } as const;

/** A Parse message naming a backend statement. */
function parseMessage(name: string, definition: Buffer): Buffer {
  return message("P", Buffer.concat([cstringBytes(name), definition]));
}

/** The backend's name for a client's statement, with a Parse of it queued first when the backend lacks it. */
function ensurePrepared(ctx: RequestContext, statement: ClientStatement, out: Buffer[]): string {
  const known = ctx.backend.statements.lookup(statement.key);
  if (known !== undefined) return known;
  const name = ctx.backend.statements.add(statement.key);
  out.push(parseMessage(name, statement.definition));
  ctx.tracker.expect({
    ends: "1",
    sync: false,
    drop: true,
    onSkip: () => ctx.backend.statements.remove(statement.key, name),
  });
  return name;
}

/** Statements evicted from the backend's cache, closed before a Sync (their answers dropped). */
function closeEvicted(ctx: RequestContext, out: Buffer[]): void {
  for (const name of ctx.backend.statements.toClose.splice(0)) {
    out.push(message("C", Buffer.concat([Buffer.from("S"), cstringBytes(name)])));
    ctx.tracker.expect({ ends: "3", sync: false, drop: true });
  }
}

function query(ctx: RequestContext, text: string): RequestOutcome {
  const kind = classifyStatement(text);
  if (kind.kind === "pin") ctx.pin(kind.why);
  if (kind.kind === "settings") {
    // Inside a transaction a SET lasts only if it commits: the backend stays with the client.
    if (ctx.txStatus !== "I") ctx.pin("a SET inside a transaction");
    else {
      ctx.tracker.expect({
        ...SYNC,
        onReady: (ok, status) => {
          // Still in a transaction (a BEGIN pipelined before it): the SET lasts only if that commits.
          if (status !== "I") ctx.pin("a SET inside a transaction");
          else if (ok) ctx.settingsChanged(kind.changes);
        },
      });
      return undefined;
    }
  }
  if (kind.kind === "forget_prepared") {
    ctx.tracker.expect({ ...SYNC, onReady: (ok) => ok && ctx.forgotPrepared(text) });
    return undefined;
  }
  ctx.tracker.expect(SYNC);
  return undefined;
}

function parse(ctx: RequestContext, body: Buffer): RequestOutcome {
  const [name, after] = readCString(body, 0);
  const [text] = readCString(body, after);
  const kind = classifyStatement(text);
  // A SET or the like through the extended protocol: followed by pinning rather than by replay.
  if (kind.kind !== "plain") ctx.pin(kind.kind === "pin" ? kind.why : "a SET through the extended protocol");
  // The backend will forget what it prepared (once this runs): forgetting early costs at most a re-prepare.
  if (kind.kind === "forget_prepared") ctx.forgotPrepared(text);
  if (name === "") {
    ctx.tracker.expect({ ends: "1", sync: false, drop: false });
    return undefined;
  }
  const statement = ctx.statements.define(name, Buffer.from(body.subarray(after)));
  if (ctx.backend.statements.lookup(statement.key) !== undefined) {
    ctx.tracker.synthesize(parseComplete());
    return [];
  }
  const backendName = ctx.backend.statements.add(statement.key);
  ctx.tracker.expect({
    ends: "1",
    sync: false,
    drop: false,
    onSkip: () => ctx.backend.statements.remove(statement.key, backendName),
  });
  return [parseMessage(backendName, statement.definition)];
}

function bind(ctx: RequestContext, body: Buffer): RequestOutcome {
  const [portal, afterPortal] = readCString(body, 0);
  const [name, afterName] = readCString(body, afterPortal);
  const statement = name === "" ? undefined : ctx.statements.get(name);
  if (!statement) {
    // Unnamed, or a name the client never prepared: the backend answers as PostgreSQL would.
    ctx.tracker.expect({ ends: "2", sync: false, drop: false });
    return undefined;
  }
  const out: Buffer[] = [];
  const backendName = ensurePrepared(ctx, statement, out);
  out.push(
    message("B", Buffer.concat([cstringBytes(portal), cstringBytes(backendName), body.subarray(afterName)])),
  );
  ctx.tracker.expect({ ends: "2", sync: false, drop: false });
  return out;
}

function describe(ctx: RequestContext, body: Buffer): RequestOutcome {
  const [name] = readCString(body, 1);
  const statement = body[0] === 0x53 && name !== "" ? ctx.statements.get(name) : undefined;
  if (!statement) {
    ctx.tracker.expect({ ends: "Tn", sync: false, drop: false });
    return undefined;
  }
  const out: Buffer[] = [];
  const backendName = ensurePrepared(ctx, statement, out);
  out.push(message("D", Buffer.concat([Buffer.from("S"), cstringBytes(backendName)])));
  ctx.tracker.expect({ ends: "Tn", sync: false, drop: false });
  return out;
}

function close(ctx: RequestContext, body: Buffer): RequestOutcome {
  const [name] = readCString(body, 1);
  if (body[0] === 0x53 && name !== "") {
    // The backend keeps it for other clients: the client's name is forgotten, answered here.
    ctx.statements.forget(name);
    ctx.tracker.synthesize(closeComplete());
    return [];
  }
  ctx.tracker.expect({ ends: "3", sync: false, drop: false });
  return undefined;
}

/**
 * One whole client message (type byte, length, body) while the client has a backend: what goes to
 * the backend instead, and the slots its answers fill.
 */
export function handleRequest(ctx: RequestContext, type: number, body: Buffer): RequestOutcome {
  switch (type) {
    case 0x51: // Query
      return query(ctx, body.toString("utf8", 0, Math.max(0, body.length - 1)));
    case 0x50: // Parse
      return parse(ctx, body);
    case 0x42: // Bind
      return bind(ctx, body);
    case 0x44: // Describe
      return describe(ctx, body);
    case 0x43: // Close
      return close(ctx, body);
    case 0x45: // Execute
      ctx.tracker.expect({ ends: "CIs", sync: false, drop: false });
      return undefined;
    case 0x53: {
      // Sync
      if (ctx.backend.statements.toClose.length === 0) {
        ctx.tracker.expect(SYNC);
        return undefined;
      }
      const out: Buffer[] = [];
      closeEvicted(ctx, out);
      out.push(message("S"));
      ctx.tracker.expect(SYNC);
      return out;
    }
    case 0x46: // FunctionCall: answered up to ReadyForQuery
      ctx.tracker.expect(SYNC);
      return undefined;
    case 0x48: // Flush
    case 0x64: // CopyData
    case 0x63: // CopyDone
    case 0x66: // CopyFail
      return undefined;
    case 0x58: // Terminate
      return "terminate";
    default:
      return [];
  }
}

/** Message types a client may send after startup. */
export const CLIENT_TYPES = new Set([
  0x51, 0x50, 0x42, 0x44, 0x43, 0x45, 0x53, 0x46, 0x48, 0x64, 0x63, 0x66, 0x58,
]);

/** The largest message a client may send (a Bind with big parameters, a CopyData). */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024 * 1024;
