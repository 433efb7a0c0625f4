/**
 * What a client's SQL text means for transaction pooling. Most statements mean nothing (the backend
 * can go back to the pool after them); a session-level `SET`/`RESET` is remembered and replayed on
 * the next backend; anything whose effect cannot move between backends pins the client to its
 * backend until it disconnects (never silently wrong: when unsure, pin).
 *
 * This is not a SQL parser: it looks at leading keywords and a few function names. Its mistakes
 * must fall on the side of pinning.
 */

export type SettingChange =
  | { readonly op: "set"; readonly key: string; readonly statement: string }
  | { readonly op: "reset"; readonly key: string }
  | { readonly op: "reset_all" };

export type StatementKind =
  | { readonly kind: "plain" }
  | { readonly kind: "settings"; readonly changes: readonly SettingChange[] }
  | { readonly kind: "pin"; readonly why: string }
  /** DISCARD ALL / DEALLOCATE ALL / DISCARD PLANS: the backend forgets what it had prepared. */
  | { readonly kind: "forget_prepared" };

const PLAIN: StatementKind = { kind: "plain" };

// One cheap test first: the hot path (SELECT/INSERT/...) mentions none of these words.
const SUSPECT =
  /\b(set|reset|listen|temp|temporary|prepare|hold|advisory|load|discard|deallocate|set_config|unlisten|declare|do)\b|pg_advisory|pg_temp/i;

// Rules for what starts a statement are anchored at the text's start or after a semicolon, and
// read with comments removed: `/* app */ LISTEN x` and `SELECT 1; LISTEN x` are LISTEN too.
const PIN_RULES: readonly { readonly re: RegExp; readonly why: string }[] = [
  { re: /(?:^|;)\s*listen\b/i, why: "LISTEN" },
  { re: /(?:^|;)\s*prepare\b/i, why: "PREPARE in SQL" },
  // A DO block whose body could change the session (SET through EXECUTE, a temp table, LISTEN...).
  {
    re: /(?:^|;)\s*do\b[\s\S]*\b(?:set|reset|listen|temp|temporary|prepare|load|set_config|pg_temp|pg_advisory_lock|pg_advisory_lock_shared)\b/i,
    why: "a DO block that may change the session",
  },
  { re: /\bwith\s+hold\b/i, why: "a cursor WITH HOLD" },
  {
    re: /\bcreate\s+(?:or\s+replace\s+)?(?:(?:global|local)\s+)?temp(?:orary)?\b/i,
    why: "a temporary table",
  },
  { re: /\binto\s+temp(?:orary)?\b/i, why: "a temporary table" },
  { re: /\bpg_temp\b/i, why: "a temporary table" },
  {
    re: /\bpg_advisory_lock(?:_shared)?\s*\(|\bpg_try_advisory_lock(?:_shared)?\s*\(/i,
    why: "a session advisory lock",
  },
  { re: /\bset_config\s*\(/i, why: "set_config()" },
  { re: /(?:^|;)\s*load\b/i, why: "LOAD" },
];

/** The text without comments (a comment could hide a statement's first word from the rules). */
function withoutComments(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, " ").replace(/--[^\n]*/g, " ");
}

/** Splits on semicolons when that is safe (no quotes or comments that could hide one); else undefined. */
function statements(text: string): string[] | undefined {
  const sql = text.replace(/[\s;]+$/, "");
  if (!sql.includes(";")) return [sql];
  if (/['"$]|--|\/\*/.test(sql)) return undefined;
  return sql.split(";").filter((s) => s.trim() !== "");
}

const IDENT = '("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$.]*)';
const SET_VALUE = new RegExp(String.raw`^\s*set\s+(?:session\s+)?${IDENT}\s*(?:=|\bto\b)\s*\S`, "is");
const SET_SPECIAL: readonly [RegExp, string][] = [
  [/^\s*set\s+(?:session\s+)?time\s+zone\b/i, "timezone"],
  [/^\s*set\s+(?:session\s+)?role\b/i, "role"],
  [/^\s*set\s+(?:session\s+)?session\s+authorization\b/i, "session_authorization"],
  [/^\s*set\s+(?:session\s+)?schema\b/i, "search_path"],
  [/^\s*set\s+(?:session\s+)?names\b/i, "client_encoding"],
];
const RESET_SPECIAL: readonly [RegExp, string][] = [
  [/^\s*reset\s+role\s*$/i, "role"],
  [/^\s*reset\s+session\s+authorization\s*$/i, "session_authorization"],
  [/^\s*reset\s+time\s+zone\s*$/i, "timezone"],
];

/** The key a setting is remembered by: its name as PostgreSQL folds it. */
function keyOf(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.toLowerCase();
}

/** One statement's setting change; undefined when it is not a SET/RESET; "pin" when it cannot be tracked. */
function settingChange(stmt: string): SettingChange | "transaction" | "pin" | undefined {
  const s = stmt.trim();
  if (/^set\s+local\b/i.test(s) || /^set\s+(?:constraints|transaction)\b/i.test(s)) return "transaction";
  if (/^set\s+session\s+characteristics\b/i.test(s)) return "pin";
  if (/^reset\s+all\s*$/i.test(s)) return { op: "reset_all" };
  for (const [re, key] of RESET_SPECIAL) if (re.test(s)) return { op: "reset", key };
  const reset = new RegExp(String.raw`^reset\s+${IDENT}\s*$`, "i").exec(s);
  if (reset) return { op: "reset", key: keyOf(reset[1]!) };
  if (!/^set\b/i.test(s)) return /^reset\b/i.test(s) ? "pin" : undefined;
  for (const [re, key] of SET_SPECIAL) if (re.test(s)) return { op: "set", key, statement: s };
  const set = SET_VALUE.exec(s);
  return set ? { op: "set", key: keyOf(set[1]!), statement: s } : "pin";
}

/** What a simple-protocol Query's text (or a Parse's) means for pooling. */
export function classifyStatement(text: string): StatementKind {
  if (!SUSPECT.test(text)) return PLAIN;
  const sql = withoutComments(text).trim();
  for (const rule of PIN_RULES) if (rule.re.test(sql)) return { kind: "pin", why: rule.why };
  if (/^\s*(?:discard\s+(?:all|plans)|deallocate\s+(?:prepare\s+)?all)\s*;?\s*$/i.test(sql))
    return { kind: "forget_prepared" };
  if (/^\s*(?:discard|deallocate)\b/i.test(sql)) return { kind: "pin", why: "DISCARD/DEALLOCATE" };
  const parts = statements(sql);
  // Text Berth cannot split (quotes hide semicolons) with a SET or RESET at a statement's start.
  if (!parts && /(?:^|;)\s*(?:set|reset)\b/i.test(sql))
    return { kind: "pin", why: "a SET Berth cannot follow" };
  const changes: SettingChange[] = [];
  let others = false;
  for (const part of parts ?? [sql]) {
    const change = settingChange(part);
    if (change === "pin") return { kind: "pin", why: "a SET Berth cannot follow" };
    if (change === undefined || change === "transaction") others = true;
    else changes.push(change);
  }
  if (changes.length === 0) return PLAIN;
  // SET mixed with other statements, or text Berth could not split: the backend keeps the client.
  if (!parts || others) return { kind: "pin", why: "a SET among other statements" };
  return { kind: "settings", changes };
}

/** A startup parameter as the statement that applies it on a backend. */
export function setStatement(name: string, value: string): string {
  return `SET "${name.replace(/"/g, '""')}" TO '${value.replace(/'/g, "''")}'`;
}

/** The statement that undoes a remembered setting on a backend. */
export function resetStatement(key: string): string {
  if (key === "role") return "RESET ROLE";
  if (key === "session_authorization") return "RESET SESSION AUTHORIZATION";
  return `RESET "${key.replace(/"/g, '""')}"`;
}

/**
 * The value a remembered SET statement gives its setting (`SET x = 'v'`, `SET "x" TO 'v'`, `SET x
 * TO v`); undefined when it is not one Berth can read (`SET x TO DEFAULT`, a list).
 */
export function settingValue(statement: string): string | undefined {
  const m = /(?:=|\bto\b)\s*(?:'((?:[^']|'')*)'|([A-Za-z0-9_./:+-]+))\s*;?\s*$/i.exec(statement);
  if (!m) return undefined;
  if (m[1] !== undefined) return m[1].replace(/''/g, "'");
  return m[2]!.toLowerCase() === "default" ? undefined : m[2];
}
