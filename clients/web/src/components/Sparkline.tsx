/**
 * A word-sized line of recent values (SVG, no axes): the trend next to a number in a table cell,
 * scaled from zero to the peak. Its label says what it shows and the range, for screen readers.
 */
export function Sparkline({ values, label, unit }: { values: number[]; label: string; unit: string }) {
  const w = 80;
  const h = 20;
  if (values.length < 2) return null;
  const peak = Math.max(...values, 0);
  const top = peak > 0 ? peak : 1;
  const x = (i: number) => (i / (values.length - 1)) * w;
  const low = Math.min(...values);
  // A steady value is a level line through the middle, not one pressed against the top.
  const y = (v: number) => (low === peak ? h / 2 : h - 1 - (v / top) * (h - 2));
  const line = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <svg
      className="sparkline"
      viewBox={`0 0 ${w} ${h}`}
      width={w}
      height={h}
      preserveAspectRatio="none"
      role="img"
      aria-label={`${label}: ${values.length} samples from ${low.toFixed(1)} to ${peak.toFixed(1)} ${unit}`}
    >
      <polyline
        fill="none"
        stroke="currentColor"
        strokeWidth="1.5"
        vectorEffect="non-scaling-stroke"
        points={line}
      />
    </svg>
  );
}
