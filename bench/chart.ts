/**
 * The chart on docs/benchmarks.md, written as SVG by hand so the bench needs no chart library:
 * one panel of horizontal bars per kind of time (handover p50 in ms, crash failover p50 in s).
 */
import type { Bar } from './report.js';

const WIDTH = 900;
const LABEL_WIDTH = 330;
const PLOT_WIDTH = 380;
const ROW = 26;
const BAR = 16;
const PANEL_HEAD = 52;
const PANEL_GAP = 22;
const COLORS: Record<Bar['kind'], string> = { ballot: '#2563eb', peer: '#9ca3af', floor: '#d1d5db' };
const PANELS: { panel: Bar['panel']; title: string; unit: 'ms' | 's' }[] = [
  { panel: 'handover', title: 'Handover on resign, p50 (ms): resign() → next candidate leads', unit: 'ms' },
  {
    panel: 'failover',
    title: 'Crash failover, p50 (s): SIGKILL to the leader → next candidate leads',
    unit: 's',
  },
];

/** Renders the bars as a standalone SVG document; `subtitle` names the machine and versions. */
export function renderChart(bars: readonly Bar[], subtitle: string): string {
  const parts: string[] = [];
  let y = 58;
  for (const spec of PANELS) {
    const rows = bars.filter((b) => b.panel === spec.panel && Number.isFinite(b.value));
    if (rows.length === 0) continue;
    parts.push(panel(rows, spec.title, spec.unit, y));
    y += PANEL_HEAD + rows.length * ROW + PANEL_GAP;
  }
  const legend = (['ballot', 'peer', 'floor'] as const)
    .map((kind, i) => {
      const x = LABEL_WIDTH + i * 120;
      const text = { ballot: 'ballot', peer: 'peer library / tool', floor: 'etcd put floor' }[kind];
      return `<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[kind]}"/><text x="${x + 18}" y="${y + 10}" class="small">${text}</text>`;
    })
    .join('');
  const height = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="ballot benchmarks: handover and crash failover times">`,
    '<style>text{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:#111827;font-size:13px}.small{font-size:11px;fill:#4b5563}.title{font-size:16px;font-weight:600}.head{font-size:13px;font-weight:600}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" class="title">ballot vs peers on etcd, lower is better</text>`,
    `<text x="16" y="44" class="small">${escape(subtitle)}</text>`,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n');
}

function panel(rows: readonly Bar[], title: string, unit: 'ms' | 's', top: number): string {
  const scale = unit === 's' ? 1000 : 1;
  const values = rows.map((r) => r.value / scale);
  const sorted = [...values].sort((a, b) => b - a);
  const largest = sorted[0] ?? 1;
  const second = sorted[1] ?? largest;
  // One bar far beyond the rest (etcdctl's 60 s TTL) would flatten every other bar: cut it short.
  const clipped = largest > 3 * second;
  const reach = clipped ? second * 1.25 : largest * 1.05;
  const step = niceCeil(reach / 4);
  const axisMax = step * Math.ceil(reach / step);
  const x0 = LABEL_WIDTH;
  const width = (v: number) => Math.max(1, (Math.min(v, axisMax) / axisMax) * PLOT_WIDTH);
  const out: string[] = [`<text x="16" y="${top + 14}" class="head">${escape(title)}</text>`];
  const plotTop = top + PANEL_HEAD - 14;
  const plotBottom = plotTop + rows.length * ROW;
  for (const tick of ticks(axisMax, step)) {
    const x = x0 + (tick / axisMax) * PLOT_WIDTH;
    out.push(
      `<line x1="${fmt(x)}" y1="${plotTop - 4}" x2="${fmt(x)}" y2="${plotBottom}" stroke="#e5e7eb"/>`,
      `<text x="${fmt(x)}" y="${plotTop - 8}" class="small" text-anchor="middle">${tickLabel(tick)}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const v = values[i] ?? 0;
    const y = plotTop + i * ROW + (ROW - BAR) / 2;
    const w = width(v);
    out.push(
      `<text x="${x0 - 8}" y="${y + BAR - 4}" text-anchor="end">${escape(row.label)}</text>`,
      `<rect x="${x0}" y="${y}" width="${fmt(w)}" height="${BAR}" fill="${COLORS[row.kind]}"${row.kind === 'floor' ? ' stroke="#9ca3af"' : ''}/>`,
    );
    if (v > axisMax) {
      // A white zigzag across the bar marks the cut.
      const cx = x0 + w - 18;
      out.push(
        `<path d="M${fmt(cx)} ${y - 2} l6 ${BAR / 2 + 2} l-6 ${BAR / 2 + 2}" stroke="#ffffff" stroke-width="4" fill="none"/>`,
      );
    }
    out.push(
      `<text x="${fmt(x0 + w + 6)}" y="${y + BAR - 4}">${valueLabel(v, unit)}${v > axisMax ? ' (cut)' : ''}</text>`,
    );
  });
  out.push(`<line x1="${x0}" y1="${plotTop - 4}" x2="${x0}" y2="${plotBottom}" stroke="#6b7280"/>`);
  return out.join('\n');
}

function valueLabel(v: number, unit: 'ms' | 's'): string {
  if (unit === 's') return `${v.toFixed(2)} s`;
  return v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`;
}

/** The smallest 1, 2 or 5 × 10^k at or above `v`. */
function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

/** Ticks every `step` from 0 to `max`. */
function ticks(max: number, step: number): number[] {
  const out: number[] = [];
  for (let t = 0; t <= max + step / 1000; t += step) out.push(Number(t.toPrecision(6)));
  return out;
}

function tickLabel(t: number): string {
  return Number.isInteger(t) ? String(t) : t.toFixed(t < 1 ? 2 : 1);
}

function fmt(n: number): string {
  return n.toFixed(1);
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
