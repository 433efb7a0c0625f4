// biome-ignore-all lint/a11y/noNoninteractiveTabindex: the chart takes focus so that ← → move its readout (the keyboard's hover).
import { type KeyboardEvent, useEffect, useId, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** One value per time point; null is a gap. */
  values: (number | null)[];
  color: string;
  /** Digits after the point in the readout. */
  digits?: number;
}

/** Colours that keep 3:1 against white (WCAG 1.4.11) and stay apart for the common colour blindnesses. */
export const CHART_COLORS = ["#1f5fbf", "#b3470e", "#1a7f37", "#8250df"] as const;

const HEIGHT = 180;

const clock = (seconds: number) =>
  new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** The last value of a series that is not a gap. */
function latest(u: uPlot, series: number): number | null {
  const values = u.data[series] ?? [];
  for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i] as number;
  return null;
}

function options(
  title: string,
  unit: string,
  series: ChartSeries[],
  width: number,
  legendHost: HTMLElement | null,
): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    // Seconds since the epoch on x: uPlot draws a time scale in the browser's time zone.
    scales: {
      // At least the last minute: a chart of the first few seconds says so by its short line.
      x: { time: true, range: (_u, min, max) => [Math.min(min, max - 60), max] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
    },
    axes: [
      {
        stroke: "#5b6470",
        grid: { stroke: "#eceff3" },
        ticks: { stroke: "#d9dde3" },
        // One line of clock time per tick (uPlot's default adds a date row that collides when narrow).
        space: 72,
        size: 32,
        values: (_u, splits) => splits.map((t) => clock(t)),
      },
      {
        stroke: "#5b6470",
        grid: { stroke: "#eceff3" },
        ticks: { stroke: "#d9dde3" },
        size: 48,
        // Counts (sessions) in whole steps; durations as they come.
        ...(series.every((s) => s.digits === 0) ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}),
        // Whole numbers of sessions; milliseconds to two places at most.
        values: (_u, splits) => splits.map((v) => String(+v.toFixed(2))),
      },
    ],
    series: [
      {
        label: "Time",
        // Away from the chart, the readout says the latest values (and that they are the latest).
        value: (u, ts, _i, idx) => {
          if (idx != null) return ts == null ? "—" : clock(ts);
          const last = latest(u, 0);
          return last == null ? "—" : `latest, ${clock(last)}`;
        },
      },
      ...series.map(
        (s, i): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          points: { show: false },
          value: (u, v, _i, idx) => {
            const shown = idx == null ? latest(u, i + 1) : v;
            return shown == null ? "—" : `${shown.toFixed(s.digits ?? 2)} ${unit}`;
          },
        }),
      ),
    ],
    // The readout goes under the time axis' title (uPlot would put it right under the canvas).
    legend: { live: true, ...(legendHost ? { mount: (_u, el) => legendHost.append(el) } : {}) },
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    // The title is the figure's caption (in the page), not drawn on the canvas.
    title: undefined,
    class: `time-chart-${title.toLowerCase().replace(/\W+/g, "-")}`,
  };
}

/**
 * A time series chart (uPlot, canvas): a time axis, a value axis in `unit`, and a legend that reads
 * out the values under the cursor. The axes' titles are text in the page (not canvas pixels) so that
 * screen readers and tests read them. With the keyboard: focus the chart, ← → move the readout.
 */
export function TimeChart({
  title,
  unit,
  times,
  series,
  description,
  yLabel,
}: {
  title: string;
  unit: string;
  /** Seconds since the epoch, ascending. */
  times: number[];
  series: ChartSeries[];
  description?: string;
  /** The value axis' title, e.g. "milliseconds". */
  yLabel: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const legendHost = useRef<HTMLDivElement>(null);
  const captionId = useId();
  const hintId = useId();
  const shape = series.map((s) => s.label).join("|");

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt only when its series change; new points go through setData below.
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const u = new uPlot(options(title, unit, series, el.clientWidth || 300, legendHost.current), [[]], el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, unit, title]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [times, series]);

  // ← → walk the points (Home / End to the ends); Escape hides the readout's cursor.
  const onKey = (e: KeyboardEvent) => {
    const u = plot.current;
    if (!u || times.length === 0) return;
    const now = u.legend.idx ?? times.length - 1;
    const moves: Record<string, number> = {
      ArrowLeft: Math.max(0, now - 1),
      ArrowRight: Math.min(times.length - 1, now + 1),
      Home: 0,
      End: times.length - 1,
    };
    const next = moves[e.key];
    if (next === undefined) return;
    e.preventDefault();
    u.setCursor({ left: u.valToPos(times[next]!, "x"), top: u.valToPos(0, "y") });
  };

  const last = series.map((s) => `${s.label} ${(s.values.at(-1) ?? 0).toFixed(s.digits ?? 2)} ${unit}`);
  return (
    <figure className="time-chart">
      <figcaption id={captionId}>
        <strong>{title}</strong>
        {description && <span className="muted"> · {description}</span>}
      </figcaption>
      <div className="time-chart-body">
        <span className="axis-title y">{yLabel}</span>
        {/* biome-ignore lint/a11y/useSemanticElements: a group of a canvas and its live legend, not a form fieldset. */}
        <div
          ref={host}
          className="time-chart-plot"
          role="group"
          tabIndex={0}
          aria-labelledby={captionId}
          aria-describedby={hintId}
          onKeyDown={onKey}
        />
      </div>
      <div className="axis-title x">time (your clock)</div>
      <div className="time-chart-readout" ref={legendHost} />
      <p className="sr-only" id={hintId}>
        Latest: {last.join(", ")}. The left and right arrow keys read earlier points.
      </p>
    </figure>
  );
}
