// biome-ignore-all lint/a11y/useSemanticElements: a virtualized grid positions rows absolutely, which <table> cannot do; ARIA table roles give it the same semantics.
// biome-ignore-all lint/a11y/useFocusableInteractive: table rows and cells are not interactive; the grid scrolls with the keyboard like any scrollable region.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useRef } from "react";
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

/** Only the rows in view are in the DOM: 10,000 or 1,000,000 rows scroll the same. */
export function RowsTable({ columns, rows }: { columns: Column[]; rows: Row[] }) {
  const scroller = useRef<HTMLElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 20,
  });
  const template = `4rem repeat(${Math.max(1, columns.length)}, minmax(8rem, 1fr))`;
  return (
    <div className="grid" role="table" aria-label="Query result" aria-rowcount={rows.length + 1}>
      <div className="grid-head" role="row" style={{ gridTemplateColumns: template }}>
        <span role="columnheader">#</span>
        {columns.map((c) => (
          <span role="columnheader" key={c.name} title={c.typeName}>
            {c.name} <span className="muted">{c.typeName}</span>
          </span>
        ))}
      </div>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard (WCAG 2.1.1; axe scrollable-region-focusable). */}
      <section className="grid-body" ref={scroller} tabIndex={0} aria-label="Rows">
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => (
            <div
              key={item.key}
              role="row"
              aria-rowindex={item.index + 2}
              className="grid-row"
              style={{
                gridTemplateColumns: template,
                transform: `translateY(${item.start}px)`,
                height: ROW_HEIGHT,
              }}
            >
              <span className="muted">{item.index + 1}</span>
              {rows[item.index]!.values.map((v, i) => (
                <span role="cell" key={columns[i]?.name ?? i}>
                  {show(v)}
                </span>
              ))}
            </div>
          ))}
        </div>
      </section>
    </div>
  );
}
