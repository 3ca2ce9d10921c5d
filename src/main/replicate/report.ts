/**
 * The miniature's results as the papers show them: per arm, the mean of each score over seeds with
 * a 95% interval (`estimate` in ../eval/seeds: Student t over seeds; with one seed, the run's own
 * Wilson interval), a Markdown table, and an SVG bar chart (refusal, over-refusal, task score per
 * arm, the aligned model's scores as dashed lines).
 */
import { estimate, type Estimate, type Rate } from '../eval';

export { estimate, type Estimate };

/** One evaluated model: the aligned one or an arm at a seed. */
export interface RunScores {
  arm: string;
  seed: number | null;
  refusal: Rate;
  overRefusal: Rate;
  task: Rate;
  /** safety examples used (mixed in or buffered) */
  safetyExamples?: number;
  selectedBehaviour?: Record<string, number>;
  steps?: number;
  wallSeconds?: number;
  cpuSeconds?: number;
}

export interface ArmSummary {
  arm: string;
  seeds: number;
  refusal: Estimate;
  overRefusal: Estimate;
  task: Estimate;
}

/** Group runs by arm (in first-seen order) and estimate each score. */
export function summarise(runs: readonly RunScores[]): ArmSummary[] {
  const order: string[] = [];
  const by = new Map<string, RunScores[]>();
  for (const r of runs) {
    if (!by.has(r.arm)) {
      by.set(r.arm, []);
      order.push(r.arm);
    }
    by.get(r.arm)!.push(r);
  }
  return order.map((arm) => {
    const rs = by.get(arm)!;
    return {
      arm,
      seeds: rs.length,
      refusal: estimate(rs.map((r) => r.refusal)),
      overRefusal: estimate(rs.map((r) => r.overRefusal)),
      task: estimate(rs.map((r) => r.task)),
    };
  });
}

const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : 'n/a');
const cell = (e: Estimate) => `${pct(e.mean)} [${pct(e.low)}–${pct(e.high)}]`;

/** Markdown table: one row per arm, scores in percent with their 95% intervals. */
export function markdownTable(rows: readonly ArmSummary[]): string {
  const head = '| arm | seeds | AdvBench refusal % ↑ | XSTest-safe over-refusal % ↓ | SST-2 accuracy % ↑ |\n|---|---|---|---|---|';
  return [head, ...rows.map((r) => `| ${r.arm} | ${r.seeds} | ${cell(r.refusal)} | ${cell(r.overRefusal)} | ${cell(r.task)} |`)].join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Grouped bar chart (SVG text): for each arm three bars (refusal, over-refusal, task) with 95%
 * interval whiskers; a reference arm (the aligned model) is drawn as dashed horizontal lines.
 */
export function svgChart(rows: readonly ArmSummary[], opts: { title: string; reference?: ArmSummary }): string {
  const series = [
    { key: 'refusal', label: 'AdvBench refusal', colour: '#2f6fb3' },
    { key: 'overRefusal', label: 'XSTest-safe over-refusal', colour: '#d9822b' },
    { key: 'task', label: 'SST-2 accuracy', colour: '#3a9a5b' },
  ] as const;
  const H = 340;
  const top = 50;
  const plotH = 220;
  const left = 60;
  // the legend's swatches one after the other (about 6.5 px a character at 11 px), the chart wide enough for them
  const legendX: number[] = [];
  let legendEnd = left;
  for (const s of series) {
    legendX.push(legendEnd);
    legendEnd += 16 + Math.ceil(s.label.length * 6.5) + 24;
  }
  const W = Math.max(120 + rows.length * 110, legendEnd);
  const y = (v: number) => top + plotH * (1 - v);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(opts.title)}</text>`);
  for (let t = 0; t <= 10; t += 2) {
    const yy = y(t / 10);
    out.push(`<line x1="${left}" x2="${W - 20}" y1="${yy}" y2="${yy}" stroke="#ddd"/><text x="${left - 6}" y="${yy + 4}" text-anchor="end">${t * 10}%</text>`);
  }
  if (opts.reference) {
    for (const s of series) {
      const v = opts.reference[s.key].mean;
      if (Number.isFinite(v))
        out.push(`<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="${s.colour}" stroke-dasharray="5,4" stroke-width="1.5"/>`);
    }
  }
  rows.forEach((r, i) => {
    const x0 = left + 20 + i * 110;
    series.forEach((s, j) => {
      const e = r[s.key];
      if (!Number.isFinite(e.mean)) return;
      const x = x0 + j * 26;
      out.push(
        `<rect x="${x}" y="${y(e.mean)}" width="22" height="${plotH * e.mean}" fill="${s.colour}"><title>${esc(`${r.arm}: ${s.label} ${cell(e)}`)}</title></rect>`,
      );
      out.push(`<line x1="${x + 11}" x2="${x + 11}" y1="${y(e.high)}" y2="${y(e.low)}" stroke="black"/>`);
    });
    out.push(`<text x="${x0 + 37}" y="${top + plotH + 16}" text-anchor="middle">${esc(r.arm)}</text>`);
  });
  series.forEach((s, j) => {
    const x = legendX[j]!;
    out.push(`<rect x="${x}" y="${H - 40}" width="12" height="12" fill="${s.colour}"/><text x="${x + 16}" y="${H - 30}">${esc(s.label)}</text>`);
  });
  if (opts.reference) out.push(`<text x="${left}" y="${H - 10}">dashed: ${esc(opts.reference.arm)} (95% intervals as whiskers)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
