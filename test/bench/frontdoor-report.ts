import type { PgbenchResult, QueryMode } from "./pgbench.js";
import { percentile } from "./stats.js";

/** Target label → "mode/clients" → what pgbench measured there. */
export type Results = Map<string, Map<string, PgbenchResult>>;

export interface IdleResult {
  readonly label: string;
  /** Why nothing could be measured. */
  readonly error?: string;
  readonly ready?: number;
  readonly failed?: number;
  readonly firstError?: string;
  readonly dropped?: number;
  readonly beforeKiB?: number;
  readonly atReadyKiB?: number;
  readonly idleKiB?: number;
}

const RATIOS: [string, string][] = [
  ["Berth", "direct"],
  ["PgBouncer", "direct"],
  ["Berth", "PgBouncer"],
];

/** The first `left` columns are labels (left-aligned); the rest numbers (right-aligned). */
function row(cells: (string | number)[], widths: number[], left = 2) {
  const text = cells.map((c, i) =>
    i < left ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!),
  );
  console.log(`  ${text.join(" ")}`);
}

/** Failures as numbered notes, one per distinct (target, reason), naming the cells it hit. */
class Notes {
  private readonly notes = new Map<string, { n: number; cells: string[] }>();
  add(label: string, cell: string, error: string): string {
    const key = `${label}: ${error}`;
    let note = this.notes.get(key);
    if (!note) {
      note = { n: this.notes.size + 1, cells: [] };
      this.notes.set(key, note);
    }
    note.cells.push(cell);
    return `fails[${note.n}]`;
  }
  print() {
    for (const [key, { n, cells }] of this.notes) console.log(`  [${n}] ${key}  (${cells.join(", ")})`);
  }
}

export function printThroughput(results: Results, modes: QueryMode[], clients: number[], labels: string[]) {
  const ratios = RATIOS.filter(([a, b]) => labels.includes(a) && labels.includes(b));
  const widths = [
    9,
    7,
    ...labels.map(() => 10),
    ...ratios.map(([a, b]) => Math.max(8, a.length + b.length + 1)),
  ];
  console.log("\nThroughput (transactions/s; ratios of the same run's numbers)");
  row(["mode", "clients", ...labels, ...ratios.map(([a, b]) => `${a}/${b}`)], widths);
  const notes = new Notes();
  for (const mode of modes) {
    for (const c of clients) {
      const cell = `${mode}/${c}`;
      const tps = (label: string) => {
        const r = results.get(label)?.get(cell);
        return r?.ok ? r.tps : undefined;
      };
      const shown = labels.map((l) => {
        const r = results.get(l)?.get(cell);
        if (!r) return "-";
        return r.ok ? Math.round(r.tps) : notes.add(l, `-M ${mode} -c ${c}`, r.error);
      });
      const ratio = ([a, b]: [string, string]) => {
        const [x, y] = [tps(a), tps(b)];
        return x !== undefined && y !== undefined ? `${(x / y).toFixed(2)}×` : "-";
      };
      row([mode, c, ...shown, ...ratios.map(ratio)], widths);
    }
  }
  notes.print();
}

/** p50/p99 of the 1-client cells from pgbench's per-transaction log, and the p50 each hop adds. */
export function printLatency(results: Results, modes: QueryMode[], labels: string[]) {
  console.log("\nLatency at 1 client (µs per transaction, from pgbench --log; added = p50 − direct's p50)");
  const widths = [9, 10, 8, 8, 8, 9];
  row(["mode", "target", "p50", "p99", "added", "txns"], widths);
  for (const mode of modes) {
    const base = results.get("direct")?.get(`${mode}/1`);
    const baseP50 = base?.ok && base.latenciesUs.length ? percentile(base.latenciesUs, 50) : undefined;
    for (const label of labels) {
      const r = results.get(label)?.get(`${mode}/1`);
      if (!r) continue;
      if (!r.ok || r.latenciesUs.length === 0) {
        row([mode, label, "fails", "-", "-", "-"], widths);
        continue;
      }
      const p50 = percentile(r.latenciesUs, 50);
      const added = baseP50 === undefined ? "-" : `${p50 - baseP50 >= 0 ? "+" : ""}${p50 - baseP50}`;
      row([mode, label, p50, percentile(r.latenciesUs, 99), added, r.latenciesUs.length], widths);
    }
  }
}

export function printIdle(results: IdleResult[], count: number) {
  console.log(
    `\n${count.toLocaleString("en")} idle clients (startup + sign-in, then silent; RSS of the server process, MiB)`,
  );
  const widths = [10, 7, 7, 8, 8, 9, 9, 10, 12];
  row(
    ["target", "ready", "failed", "dropped", "before", "at ready", "after 5s", "KiB/client", "(at ready)"],
    widths,
    1,
  );
  const mib = (k: number) => (k / 1024).toFixed(1);
  for (const r of results) {
    if (r.error !== undefined || r.ready === undefined) {
      console.log(`  ${r.label.padEnd(widths[0]!)} error: ${r.error}`);
      continue;
    }
    const per = (k: number) => (r.ready! > 0 ? ((k - r.beforeKiB!) / r.ready!).toFixed(2) : "-");
    row(
      [
        r.label,
        r.ready,
        r.failed!,
        r.dropped!,
        mib(r.beforeKiB!),
        mib(r.atReadyKiB!),
        mib(r.idleKiB!),
        per(r.idleKiB!),
        per(r.atReadyKiB!),
      ],
      widths,
      1,
    );
    if (r.firstError) console.log(`  ${"".padEnd(widths[0]!)} first failure: ${r.firstError}`);
  }
}
