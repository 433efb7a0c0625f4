/**
 * Where one statement ends and the next begins, and which parameters a statement takes, without a
 * parser: a scanner that knows the engines' quotes and comments, so a `;` or `$1` inside a string
 * or a comment is neither a boundary nor a parameter.
 */

export type EngineId = "postgresql" | "mysql" | "sqlserver" | "oracle";

/** A stretch of the text: code, or something the scanner skips (a string, quoted name or comment). */
interface Segment {
  from: number;
  to: number;
  code: boolean;
}

/** The end (exclusive) of the quoted or commented stretch that starts at `i`, or -1 if none does. */
function skipAt(sql: string, i: number, engine: EngineId): number {
  const c = sql[i];
  const close = (end: string, from: number) => {
    const at = sql.indexOf(end, from);
    return at < 0 ? sql.length : at + end.length;
  };
  if (c === "-" && sql[i + 1] === "-") return close("\n", i + 2);
  if (c === "#" && engine === "mysql") return close("\n", i + 1);
  if (c === "/" && sql[i + 1] === "*") return close("*/", i + 2);
  if (c === "'" || c === '"' || (c === "`" && engine === "mysql")) {
    // A doubled quote is the quote itself; MySQL also takes a backslash escape in strings.
    for (let j = i + 1; j < sql.length; j++) {
      if (engine === "mysql" && sql[j] === "\\") j++;
      else if (sql[j] === c) {
        if (sql[j + 1] === c) j++;
        else return j + 1;
      }
    }
    return sql.length;
  }
  if (c === "[" && engine === "sqlserver") return close("]", i + 1);
  if (c === "$" && engine === "postgresql") {
    // Dollar quoting: $$…$$ or $tag$…$tag$ (a parameter, $1, is not one: tags do not start with a digit).
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
    if (tag) return close(tag[0], i + tag[0].length);
  }
  return -1;
}

export function segments(sql: string, engine: EngineId): Segment[] {
  const out: Segment[] = [];
  let start = 0;
  for (let i = 0; i < sql.length; ) {
    const end = skipAt(sql, i, engine);
    if (end < 0) {
      i++;
      continue;
    }
    if (i > start) out.push({ from: start, to: i, code: true });
    out.push({ from: i, to: end, code: false });
    start = end;
    i = end;
  }
  if (start < sql.length) out.push({ from: start, to: sql.length, code: true });
  return out;
}

/** The statements of a script as [from, to) ranges of the text, split at `;` outside strings and comments. */
export function statementRanges(sql: string, engine: EngineId): [number, number][] {
  const ranges: [number, number][] = [];
  let from = 0;
  for (const s of segments(sql, engine)) {
    if (!s.code) continue;
    for (let i = s.from; i < s.to; i++)
      if (sql[i] === ";") {
        ranges.push([from, i]);
        from = i + 1;
      }
  }
  ranges.push([from, sql.length]);
  return ranges;
}

/**
 * The statement the cursor is in (or just after: a cursor right behind a `;` means the statement it
 * ends), trimmed. Blank stretches between statements count with the statement before them.
 */
export function statementAt(sql: string, cursor: number, engine: EngineId): string {
  const ranges = statementRanges(sql, engine);
  const text = ([a, b]: [number, number]) => sql.slice(a, b).trim();
  let index = ranges.findIndex(([a, b]) => cursor >= a && cursor <= b);
  if (index < 0) index = ranges.length - 1;
  // Past the last statement's end, in trailing blanks: the statement before.
  while (index > 0 && text(ranges[index]!) === "") index--;
  return text(ranges[index]!);
}

/** How each engine's driver spells a positional parameter (README: engine table). */
const PLACEHOLDERS: Record<EngineId, { pattern: RegExp; numbered: boolean; label: (n: number) => string }> = {
  postgresql: { pattern: /\$(\d+)/g, numbered: true, label: (n) => `$${n}` },
  mysql: { pattern: /\?/g, numbered: false, label: (n) => `? #${n}` },
  sqlserver: { pattern: /(?<![@\w])@p(\d+)\b/gi, numbered: true, label: (n) => `@p${n}` },
  oracle: { pattern: /(?<![:\w]):(\d+)\b/g, numbered: true, label: (n) => `:${n}` },
};

/** The parameters a statement takes, as their labels in order ($1, $2 … or ? #1, ? #2 …). */
export function parameterLabels(sql: string, engine: EngineId): string[] {
  const p = PLACEHOLDERS[engine];
  let count = 0;
  for (const s of segments(sql, engine)) {
    if (!s.code) continue;
    for (const m of sql.slice(s.from, s.to).matchAll(p.pattern))
      count = p.numbered ? Math.max(count, Number(m[1])) : count + 1;
  }
  // A statement that names $500 is not asking for 500 fields; Berth's drivers refuse it anyway.
  count = Math.min(count, 100);
  return Array.from({ length: count }, (_, i) => p.label(i + 1));
}
