import { type Completion, type CompletionSource, closeCompletion } from "@codemirror/autocomplete";
import {
  MSSQL,
  MySQL,
  PLSQL,
  PostgreSQL,
  type SQLDialect,
  type SQLNamespace,
  sql,
} from "@codemirror/lang-sql";
import { Compartment, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { type Ref, useEffect, useImperativeHandle, useRef } from "react";
import { type EngineId, statementAt, statementRanges } from "../query/statements.js";
import { editorSetup } from "./editorSetup.js";

/**
 * The query console's editor: CodeMirror 6 with the SQL of the connection's engine. Loaded on its
 * own (React.lazy) when the query console opens: the rest of the console does not carry it.
 */

const DIALECTS: Record<EngineId, SQLDialect> = {
  postgresql: PostgreSQL,
  mysql: MySQL,
  sqlserver: MSSQL,
  oracle: PLSQL,
};

export interface SqlEditorHandle {
  /** What Run runs: the selection if there is one, else the statement at the cursor. */
  target(): string;
  setDoc(text: string): void;
  focus(): void;
}

export interface SqlEditorProps {
  engine: EngineId;
  initialDoc: string;
  /** schema → table → column completions, as far as the schema browser has loaded them. */
  schema: SQLNamespace;
  defaultSchema?: string;
  /** Columns by table name (lower case), for completing column names after FROM/JOIN. */
  columnsByTable: Map<string, Completion[]>;
  onChange(doc: string): void;
  onRun(): void;
  ref?: Ref<SqlEditorHandle>;
}

const TABLE_REFERENCE =
  /\b(?:from|join|update|into)\s+((?:[`"[]?[\w$]+[`"\]]?\s*\.\s*)?[`"[]?[\w$]+[`"\]]?)/gi;

/**
 * Column names of the tables the statement at the cursor names (FROM, JOIN, UPDATE, INTO), offered
 * without a `table.` prefix — lang-sql's own source covers `table.column` and table names.
 */
function columnsOfNamedTables(
  engine: EngineId,
  columnsByTable: () => Map<string, Completion[]>,
): CompletionSource {
  return (ctx) => {
    const word = ctx.matchBefore(/[\w$]*/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    if (ctx.state.sliceDoc(word.from - 1, word.from) === ".") return null;
    const doc = ctx.state.doc.toString();
    const range = statementRanges(doc, engine).find(([a, b]) => ctx.pos >= a && ctx.pos <= b);
    const text = range ? doc.slice(range[0], range[1]) : doc;
    const options: Completion[] = [];
    const tables = columnsByTable();
    for (const m of text.matchAll(TABLE_REFERENCE)) {
      const name = (m[1] ?? "")
        .split(".")
        .pop()!
        .replace(/[`"[\]\s]/g, "")
        .toLowerCase();
      options.push(...(tables.get(name) ?? []));
    }
    return options.length > 0 ? { from: word.from, options, validFor: /^[\w$]*$/ } : null;
  };
}

export default function SqlEditor(props: SqlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | undefined>(undefined);
  const language = useRef(new Compartment());
  // The latest props for the editor's callbacks, which are bound once.
  const latest = useRef(props);
  latest.current = props;

  const target = () => {
    const v = view.current;
    if (!v) return "";
    const sel = v.state.selection.main;
    if (!sel.empty) return v.state.sliceDoc(sel.from, sel.to).trim();
    return statementAt(v.state.doc.toString(), sel.head, latest.current.engine);
  };

  useImperativeHandle(props.ref, () => ({
    target,
    setDoc(text: string) {
      const v = view.current;
      v?.dispatch({
        changes: { from: 0, to: v.state.doc.length, insert: text },
        selection: { anchor: text.length },
      });
    },
    focus: () => view.current?.focus(),
  }));

  // biome-ignore lint/correctness/useExhaustiveDependencies: created once; later props reach it through `latest` and the compartment.
  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      doc: props.initialDoc,
      extensions: [
        // Above the default keymap, which gives Mod-Enter to "insert blank line".
        Prec.highest(
          keymap.of([
            {
              key: "Mod-Enter",
              run: (v) => {
                closeCompletion(v);
                latest.current.onRun();
                return true;
              },
            },
          ]),
        ),
        editorSetup,
        language.current.of([]),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": "Statement" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) latest.current.onChange(u.state.doc.toString());
        }),
      ],
    });
    view.current = v;
    return () => v.destroy();
  }, []);

  useEffect(() => {
    const lang = sql({
      dialect: DIALECTS[props.engine],
      schema: props.schema,
      defaultSchema: props.defaultSchema,
      upperCaseKeywords: true,
    });
    view.current?.dispatch({
      effects: language.current.reconfigure([
        lang,
        lang.language.data.of({
          autocomplete: columnsOfNamedTables(props.engine, () => latest.current.columnsByTable),
        }),
      ]),
    });
  }, [props.engine, props.schema, props.defaultSchema]);

  return <div className="sql-editor" ref={host} />;
}
