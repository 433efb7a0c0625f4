/**
 * What was run on a connection, newest first, kept in this browser's localStorage (never sent to
 * Berth). Only the statement's text: parameter values are not kept.
 */
const LIMIT = 50;
const key = (connectionId: string) => `berth.history.${connectionId}`;

export interface HistoryEntry {
  sql: string;
  /** When it was last run (ISO). */
  at: string;
}

export function readHistory(connectionId: string): HistoryEntry[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(key(connectionId)) ?? "[]");
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((e): e is HistoryEntry => typeof e?.sql === "string" && typeof e?.at === "string");
  } catch {
    // Unreadable (edited by hand, or storage disabled): start afresh rather than break the page.
    return [];
  }
}

/** Adds a statement on top (a repeat moves up rather than appearing twice); returns the new list. */
export function remember(connectionId: string, sql: string): HistoryEntry[] {
  const next = [
    { sql, at: new Date().toISOString() },
    ...readHistory(connectionId).filter((e) => e.sql !== sql),
  ].slice(0, LIMIT);
  try {
    localStorage.setItem(key(connectionId), JSON.stringify(next));
  } catch {
    // Storage full or disabled: the history is a convenience, the statement still runs.
  }
  return next;
}

export function clearHistory(connectionId: string): void {
  localStorage.removeItem(key(connectionId));
}
