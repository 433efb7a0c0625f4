import type { AttachedBackend, BackendState } from "./backend.js";
import type { ClientStatements } from "./prepared.js";
import type { ResponseTracker } from "./responses.js";
import { resetStatement, type SettingChange } from "./statement-kind.js";
import { message } from "./wire.js";

/** A client's remembered settings (key → the statement that set it), and those of its backend, as a SET/RESET changed them. */
export function applySettingChanges(
  changes: readonly SettingChange[],
  mine: Map<string, string>,
  theirs: Map<string, string> | undefined,
): void {
  for (const c of changes) {
    if (c.op === "reset_all") {
      mine.clear();
      theirs?.clear();
    } else if (c.op === "reset") {
      mine.delete(c.key);
      theirs?.delete(c.key);
    } else {
      mine.set(c.key, c.statement);
      theirs?.set(c.key, c.statement);
    }
  }
}

/** DISCARD ALL / DEALLOCATE ALL ran: what the backend (and the client, for its own statements) forgot. */
export function forgetAfter(
  sql: string,
  client: { statements: ClientStatements; settings: Map<string, string> },
  backend: BackendState | undefined,
): void {
  backend?.statements.clear();
  if (/deallocate/i.test(sql)) client.statements.clear();
  if (/discard\s+all/i.test(sql)) {
    client.statements.clear();
    client.settings.clear();
    backend?.settings.clear();
  }
}

/**
 * The statements that make a backend carry exactly the client's settings (RESET what it has that
 * the client does not, SET what differs), as one Query text; undefined when they already match.
 * The backend's remembered settings become the client's.
 */
export function settingsReplay(
  mine: ReadonlyMap<string, string>,
  theirs: Map<string, string>,
): string | undefined {
  const statements: string[] = [];
  for (const key of theirs.keys()) if (!mine.has(key)) statements.push(resetStatement(key));
  for (const [key, statement] of mine) if (theirs.get(key) !== statement) statements.push(statement);
  if (statements.length === 0) return undefined;
  theirs.clear();
  for (const [k, v] of mine) theirs.set(k, v);
  return statements.join("; ");
}

/**
 * The Query that gives a backend the client's settings where they differ (undefined when they
 * match), its answers expected by the tracker and dropped. Refused (a setting the server does not
 * take): the backend's settings are unknown now, so it is reset when it goes back, and the client
 * is warned that its settings did not apply.
 */
export function settingsReplayQuery(
  mine: ReadonlyMap<string, string>,
  backend: AttachedBackend,
  tracker: ResponseTracker,
  client: { settingsNotApplied(): void },
): Buffer | undefined {
  const text = settingsReplay(mine, backend.state.settings);
  if (text === undefined) return undefined;
  tracker.expect({
    ends: "Z",
    sync: true,
    drop: true,
    onReady: (ok) => {
      if (ok) return;
      backend.state.settings.clear();
      backend.tainted = true;
      client.settingsNotApplied();
    },
  });
  return message("Q", Buffer.from(`${text}\0`, "utf8"));
}
