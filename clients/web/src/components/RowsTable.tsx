// biome-ignore-all lint/a11y/useSemanticElements: a virtualized grid positions rows absolutely, which <table> cannot do; ARIA table roles give it the same semantics.
// biome-ignore-all lint/a11y/useFocusableInteractive: table rows and cells are not interactive; the grid scrolls with the keyboard like any scrollable region.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef } from "react";
import type { Column, Row, Value } from "../../../../src/gen/berth/v1/values_pb.js";

/** A value as text for the grid. Typed on the wire; shown plainly here. */
export function show(v: Value | undefined): string {
  const k = v?.kind;
  if (!k || k.case === undefined || k.case === "null") return "NULL";
  switch (k.case) {
    case "bytes":
      return `\\x${Array.from(k.value, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    case "timestamp":
      return new Date(Number(k.value.seconds) * 1000 + k.value.nanos / 1e6).toISOString();
    case "array":
      return `{${k.value.values.map(show).join(",")}}`;
    default:
      return String(k.value);
  }
}

const ROW_HEIGHT = 28;
/** Widths in characters of the monospace grid: wide enough for most values, never a page wide. */
const MIN_CH = 6;
const MAX_CH = 48;
/** Rows whose values size the columns: the first ones, so a streaming result does not jitter. */
const SAMPLE_ROWS = 200;

/**
 * One column template for the header and every row: fixed widths from the header text and the
 * first rows' values. Tracks that sized themselves per row (`1fr`, `max-content`) put values under
 * the wrong header as soon as two rows' contents differed.
 */
export function columnTemplate(columns: Column[], rows: Row[]): string {
  const widths = columns.map((c, i) => {
    let ch = c.name.length + 1 + c.typeName.length;
    for (const row of rows.slice(0, SAMPLE_ROWS)) ch = Math.max(ch, show(row.values[i]).length);
    return Math.min(MAX_CH, Math.max(MIN_CH, ch));
  });
  const counter = Math.max(3, String(rows.length).length);
  // In em, not ch: ch is measured in each element's own font, and the header's is bold. A monospace
  // character is about 0.6em wide; 16px is the cells' left and right padding.
  return [counter, ...widths].map((ch) => `calc(${(ch * 0.62).toFixed(2)}em + 16px)`).join(" ");
}

/**
 * Only the rows in view are in the DOM: 10,000 or 1,000,000 rows scroll the same. The header row
 * lives in the same scrolling box as the rows (sticky at its top), so both scroll sideways
 * together and share one template.
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
  // biome-ignore lint/correctness/useExhaustiveDependencies: sized from the first rows only (see columnTemplate); later rows do not resize the columns.
  const template = useMemo(
    () => columnTemplate(columns, rows),
    [columns, sample, String(rows.length).length],
  );
  return (
    <div className="grid" role="table" aria-label="Query result" aria-rowcount={rows.length + 1}>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard (WCAG 2.1.1; axe scrollable-region-focusable). */}
      <section className="grid-body" ref={scroller} tabIndex={0} aria-label="Rows">
        <div className="grid-sheet">
          <div className="grid-head" role="row" style={{ gridTemplateColumns: template, height: ROW_HEIGHT }}>
            <span role="columnheader">#</span>
            {columns.map((c) => (
              <span role="columnheader" key={c.name} title={`${c.name} ${c.typeName}`}>
                {c.name} <span className="muted">{c.typeName}</span>
              </span>
            ))}
          </div>
          <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
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
                {rows[item.index]!.values.map((v, i) => (
                  <span role="cell" key={columns[i]?.name ?? i} title={show(v)}>
                    {show(v)}
                  </span>
                ))}
              </div>
            ))}
          </div>
        </div>
      </section>
    </div>
  );
}
