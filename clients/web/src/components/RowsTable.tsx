// biome-ignore-all lint/a11y/useSemanticElements: a virtualized grid positions rows absolutely, which <table> cannot do; ARIA table roles give it the same semantics.
// biome-ignore-all lint/a11y/useFocusableInteractive: table rows and cells are not interactive; the grid scrolls with the keyboard like any scrollable region.
import { useVirtualizer } from "@tanstack/react-virtual";
import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from "react";
import type { Column, Row } from "../../../../src/gen/berth/v1/values_pb.js";
import { cellAsText, rowAsText } from "../query/export.js";
import { isNull, show } from "../query/values.js";
import { copyText } from "./browser-io.js";
import { GridHeader } from "./GridHeader.js";

export { show };

const ROW_HEIGHT = 28;
/** Widths in characters of the monospace grid: wide enough for most values, never a page wide. */
const MIN_CH = 6;
const MAX_CH = 48;
/** Rows whose values size the columns: the first ones, so a streaming result does not jitter. */
const SAMPLE_ROWS = 200;

/**
 * One width per column (the row counter first) shared by the header and every row: fixed widths
 * from the header text and the first rows' values. Tracks that sized themselves per row (`1fr`,
 * `max-content`) put values under the wrong header as soon as two rows' contents differed.
 */
export function columnChars(columns: Column[], rows: Row[]): number[] {
  const widths = columns.map((c, i) => {
    let ch = c.name.length + 1 + c.typeName.length;
    for (const row of rows.slice(0, SAMPLE_ROWS)) ch = Math.max(ch, show(row.values[i]).length);
    return Math.min(MAX_CH, Math.max(MIN_CH, ch));
  });
  return [Math.max(3, String(rows.length).length), ...widths];
}

// In em, not ch: ch is measured in each element's own font, and the header's is bold. A monospace
// character is about 0.6em wide; 16px is the cells' left and right padding (and room for the
// header's resize handle).
const emWidth = (ch: number) => `calc(${(ch * 0.62).toFixed(2)}em + 16px)`;
/** The same width in px at the grid's 13.5px font, for the resize handles' aria-valuenow. */
const pxWidth = (ch: number) => Math.round(ch * 0.62 * 13.5 + 16);

export const columnWidths = (columns: Column[], rows: Row[]) => columnChars(columns, rows).map(emWidth);

export const columnTemplate = (columns: Column[], rows: Row[]) => columnWidths(columns, rows).join(" ");

interface Active {
  row: number;
  column: number;
}

/**
 * Only the rows in view are in the DOM: 10,000 or 1,000,000 rows scroll the same. The header row
 * lives in the same scrolling box as the rows (sticky at its top), so both scroll sideways
 * together and share one template. A cell is picked by click or arrow keys, and copied (Ctrl+C)
 * with its row (Ctrl+Shift+C) or from the buttons. Keyed by its run: a new result starts afresh.
 */
export function RowsTable({ columns, rows }: { columns: Column[]; rows: Row[] }) {
  const scroller = useRef<HTMLElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    // The header row sits above the first row inside the scrolling box.
    scrollMargin: ROW_HEIGHT,
    overscan: 20,
  });
  const sample = Math.min(rows.length, SAMPLE_ROWS);
  // biome-ignore lint/correctness/useExhaustiveDependencies: sized from the first rows only (see columnWidths); later rows do not resize the columns.
  const chars = useMemo(() => columnChars(columns, rows), [columns, sample, String(rows.length).length]);
  // Widths set by dragging or the arrow keys on a header's handle, in px, by column index.
  const [resized, setResized] = useState<Record<number, number>>({});
  const template = chars
    .map((ch, i) => (i > 0 && resized[i - 1] ? `${resized[i - 1]}px` : emWidth(ch)))
    .join(" ");
  const widthsPx = columns.map((_, i) => resized[i] ?? pxWidth(chars[i + 1] ?? MIN_CH));

  const [active, setActive] = useState<Active | undefined>();
  const [note, setNote] = useState("");
  useEffect(() => {
    if (!active) return;
    virtual.scrollToIndex(active.row);
    scroller.current
      ?.querySelector(`[data-cell="${active.row}:${active.column}"]`)
      ?.scrollIntoView({ block: "nearest", inline: "nearest" });
  }, [active, virtual]);

  const copy = async (what: "cell" | "row") => {
    if (!active) return;
    const row = rows[active.row]!;
    const text = what === "cell" ? cellAsText(row.values[active.column]) : rowAsText(columns, row);
    const ok = await copyText(text);
    setNote(ok ? `Copied the ${what} (row ${active.row + 1}).` : "The browser refused the clipboard.");
  };

  const onKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "c" && active) {
      e.preventDefault();
      void copy(e.shiftKey ? "row" : "cell");
      return;
    }
    const moves: Record<string, [number, number]> = {
      ArrowDown: [1, 0],
      ArrowUp: [-1, 0],
      ArrowRight: [0, 1],
      ArrowLeft: [0, -1],
    };
    const move = moves[e.key];
    if (!move || rows.length === 0) return;
    e.preventDefault();
    const at = active ?? { row: 0, column: 0 };
    const clamp = (n: number, max: number) => Math.max(0, Math.min(max, n));
    setActive(
      active
        ? {
            row: clamp(at.row + move[0], rows.length - 1),
            column: clamp(at.column + move[1], columns.length - 1),
          }
        : at,
    );
  };

  return (
    <div className="grid-wrap">
      <div className="grid-tools">
        <button type="button" onClick={() => copy("cell")} disabled={!active}>
          Copy cell
        </button>
        <button type="button" onClick={() => copy("row")} disabled={!active}>
          Copy row
        </button>
        <span className="muted" role="status">
          {note ||
            (active
              ? `Row ${active.row + 1}, ${columns[active.column]?.name}`
              : "Pick a cell: click, or focus the grid and use the arrow keys")}
        </span>
      </div>
      <div className="grid">
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard (WCAG 2.1.1; axe scrollable-region-focusable). */}
        <section className="grid-body" ref={scroller} tabIndex={0} aria-label="Rows" onKeyDown={onKey}>
          {/* The table inside the scrolling region: a region between a table and its rows breaks their roles. */}
          <div className="grid-sheet" role="table" aria-label="Query result" aria-rowcount={rows.length + 1}>
            <GridHeader
              columns={columns}
              template={template}
              height={ROW_HEIGHT}
              widthsPx={widthsPx}
              onResize={(i, px) => setResized((r) => ({ ...r, [i]: Math.max(40, Math.round(px)) }))}
            />
            <div role="rowgroup" style={{ height: virtual.getTotalSize(), position: "relative" }}>
              {virtual.getVirtualItems().map((item) => (
                <div
                  key={item.key}
                  role="row"
                  aria-rowindex={item.index + 2}
                  className="grid-row"
                  style={{
                    gridTemplateColumns: template,
                    transform: `translateY(${item.start - virtual.options.scrollMargin}px)`,
                    height: ROW_HEIGHT,
                  }}
                >
                  <span className="muted">{item.index + 1}</span>
                  {rows[item.index]!.values.map((v, i) => {
                    const here = active?.row === item.index && active.column === i;
                    return (
                      // biome-ignore lint/a11y/useKeyWithClickEvents: the keyboard picks cells with the arrow keys on the focused grid.
                      <span
                        role="cell"
                        key={columns[i]?.name ?? i}
                        data-cell={`${item.index}:${i}`}
                        className={`${isNull(v) ? "null" : ""}${here ? " active" : ""}`}
                        title={isNull(v) ? "NULL (no value)" : show(v)}
                        onClick={() => setActive({ row: item.index, column: i })}
                      >
                        {show(v)}
                      </span>
                    );
                  })}
                </div>
              ))}
            </div>
          </div>
        </section>
      </div>
    </div>
  );
}
