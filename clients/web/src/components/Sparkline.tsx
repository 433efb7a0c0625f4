/** A small line chart of recent values (SVG, no library), scaled from zero to a little above the peak. */
export function Sparkline({ values, label, unit }: { values: number[]; label: string; unit: string }) {
  const w = 300;
  const h = 60;
  const peak = Math.max(...values, 0);
  const top = peak > 0 ? peak * 1.25 : 1;
  const x = (i: number) => (i / Math.max(1, values.length - 1)) * w;
  const y = (v: number) => h - 2 - (v / top) * (h - 4);
  const line = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const last = values.at(-1) ?? 0;
  return (
    <figure className="spark">
      <figcaption>
        {label}:{" "}
        <strong>
          {last.toFixed(2)} {unit}
        </strong>{" "}
        <span className="muted">(peak {peak.toFixed(2)})</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${w} ${h}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label} over the last minutes`}
      >
        <line x1="0" y1={h - 1} x2={w} y2={h - 1} stroke="#d9dde3" strokeWidth="1" />
        <polyline
          fill="none"
          stroke="currentColor"
          strokeWidth="2"
          vectorEffect="non-scaling-stroke"
          points={line}
        />
      </svg>
    </figure>
  );
}
