// biome-ignore-all lint/a11y/useSemanticElements: the header row of the virtualized grid (see RowsTable).
// biome-ignore-all lint/a11y/useFocusableInteractive: column headers are not interactive; their resize handles are.
import type { KeyboardEvent, PointerEvent } from "react";
import type { Column } from "../../../../src/gen/berth/v1/values_pb.js";

const KEY_STEP = 16;

/**
 * The grid's header: name and type per column, and a handle at each column's right edge that
 * resizes it by dragging, or by the arrow keys once focused (a focusable separator, as ARIA has it).
 */
export function GridHeader({
  columns,
  template,
  height,
  widthsPx,
  onResize,
}: {
  columns: Column[];
  template: string;
  height: number;
  /** Each column's width in px (set, or estimated from its characters), for assistive technology. */
  widthsPx: number[];
  onResize(index: number, px: number): void;
}) {
  const widthOf = (el: Element) => el.parentElement!.getBoundingClientRect().width;
  const drag = (i: number) => (e: PointerEvent<HTMLSpanElement>) => {
    e.preventDefault();
    const handle = e.currentTarget;
    const startX = e.clientX;
    const startWidth = widthOf(handle);
    handle.setPointerCapture(e.pointerId);
    const move = (m: globalThis.PointerEvent) => onResize(i, startWidth + m.clientX - startX);
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  };
  const key = (i: number) => (e: KeyboardEvent<HTMLSpanElement>) => {
    const step = e.key === "ArrowRight" ? KEY_STEP : e.key === "ArrowLeft" ? -KEY_STEP : 0;
    if (step === 0) return;
    e.preventDefault();
    // Not the grid's arrow keys (which move between cells).
    e.stopPropagation();
    onResize(i, widthOf(e.currentTarget) + step);
  };
  return (
    <div className="grid-head" role="row" style={{ gridTemplateColumns: template, height }}>
      <span role="columnheader">#</span>
      {columns.map((c, i) => (
        <span role="columnheader" key={c.name} title={`${c.name} ${c.typeName}`}>
          {c.name} <span className="muted">{c.typeName}</span>
          <span
            className="resize"
            role="separator"
            aria-orientation="vertical"
            aria-label={`Resize column ${c.name}`}
            aria-valuenow={widthsPx[i]}
            aria-valuemin={40}
            tabIndex={0}
            onPointerDown={drag(i)}
            onKeyDown={key(i)}
          />
        </span>
      ))}
    </div>
  );
}
