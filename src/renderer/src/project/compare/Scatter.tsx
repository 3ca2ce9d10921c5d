/**
 * Attack success against over-refusal, one point per run (sized by task score) with 95% intervals,
 * coloured per run with a legend of run names; a title and axis labels are drawn inside the SVG so
 * the exported SVG/PNG stands on its own. Point labels ("#12") are placed so they do not overprint.
 */
import type { RefObject } from 'react';
import { placeLabels } from '../../charts/labels';
import { categorical } from '../../charts/palette';
import { pct } from '../format';
import type { CompareRow as Row } from './compareCsv';

export const W = 640;
const PLOT_H = 360;
const TITLE_H = 44;
const LEGEND_ROW = 18;
const LEGEND_COLS = 2;
const M = { left: 56, right: 16, top: TITLE_H + 8, bottom: 44 };
/** Run names longer than this are cut in the legend (the table has them whole). */
const NAME_MAX = 38;

export const SCATTER_TITLE = 'Attack success against over-refusal';

/** The SVG's height for this many runs: title, plot, then the legend rows. */
export function scatterHeight(runs: number): number {
  return TITLE_H + PLOT_H + Math.ceil(runs / LEGEND_COLS) * LEGEND_ROW + 12;
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function Scatter({ rows, svgRef, projectName }: { rows: Row[]; svgRef: RefObject<SVGSVGElement | null>; projectName: string }) {
  const H = scatterHeight(rows.length);
  const plotBottom = TITLE_H + PLOT_H - M.bottom;
  const x = (v: number) => M.left + v * (W - M.left - M.right);
  const y = (v: number) => plotBottom - v * (plotBottom - M.top);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const points = rows.map((r) => {
    const util = r.task.rate;
    return { x: x(r.overRefusal.rate ?? 0), y: y(r.attackSuccess.rate ?? 0), r: util === null ? 5 : 4 + 8 * util, text: `#${r.runId}` };
  });
  const labels = placeLabels(points, { x: M.left, y: M.top, w: W - M.left - M.right, h: plotBottom - M.top });
  const legendTop = TITLE_H + PLOT_H;
  const colW = (W - M.left) / LEGEND_COLS;
  return (
    <svg
      ref={svgRef}
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      className="scatter"
      role="img"
      aria-label={SCATTER_TITLE}
      fontFamily="system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
    >
      <rect x={0} y={0} width={W} height={H} fill="#ffffff" />
      <text x={W / 2} y={20} fontSize={14} fontWeight={600} textAnchor="middle" fill="#1c2430" className="scatter-title">
        {`${SCATTER_TITLE}: ${cut(projectName, 40)}`}
      </text>
      <text x={W / 2} y={36} fontSize={11} textAnchor="middle" fill="#5b6675">
        Lower left is better · circle size: task score · bars: 95% intervals
      </text>
      {ticks.map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={y(0)} y2={y(1)} stroke="#e5e7eb" />
          <line x1={x(0)} x2={x(1)} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={x(t)} y={plotBottom + 16} fontSize={11} textAnchor="middle" fill="#5b6675">
            {pct(t, 0)}
          </text>
          <text x={M.left - 6} y={y(t) + 4} fontSize={11} textAnchor="end" fill="#5b6675">
            {pct(t, 0)}
          </text>
        </g>
      ))}
      <text x={(x(0) + x(1)) / 2} y={plotBottom + 34} fontSize={12} textAnchor="middle" fill="#1c2430" className="axis-label">
        Over-refusal (benign prompts refused) →
      </text>
      <text transform={`translate(14 ${(y(0) + y(1)) / 2}) rotate(-90)`} fontSize={12} textAnchor="middle" fill="#1c2430" className="axis-label">
        Attack success (harmful prompts answered) →
      </text>
      {rows.map((r, i) => {
        const p = points[i]!;
        const colour = categorical(i);
        return (
          <g key={r.runId} data-run-id={r.runId}>
            {r.attackSuccess.low !== null && r.attackSuccess.high !== null && (
              <line x1={p.x} x2={p.x} y1={y(r.attackSuccess.low)} y2={y(r.attackSuccess.high)} stroke={colour} strokeOpacity={0.5} />
            )}
            {r.overRefusal.low !== null && r.overRefusal.high !== null && (
              <line x1={x(r.overRefusal.low)} x2={x(r.overRefusal.high)} y1={p.y} y2={p.y} stroke={colour} strokeOpacity={0.5} />
            )}
            <circle cx={p.x} cy={p.y} r={p.r} fill={colour} fillOpacity={0.8} stroke="#1c2430" strokeWidth={0.5}>
              <title>{`#${r.runId} ${r.name}: attack success ${pct(r.attackSuccess.rate)}, over-refusal ${pct(r.overRefusal.rate)}, task ${pct(r.task.rate)}`}</title>
            </circle>
          </g>
        );
      })}
      {labels.map((l, i) => (
        <text key={rows[i]!.runId} className="point-label" x={l.x} y={l.y} fontSize={11} textAnchor={l.anchor} fill="#1c2430">
          {points[i]!.text}
        </text>
      ))}
      <g className="scatter-legend" aria-label="Runs">
        {rows.map((r, i) => {
          const lx = M.left + (i % LEGEND_COLS) * colW;
          const ly = legendTop + Math.floor(i / LEGEND_COLS) * LEGEND_ROW + 10;
          return (
            <g key={r.runId} data-run-id={r.runId}>
              <circle cx={lx + 5} cy={ly - 4} r={5} fill={categorical(i)} fillOpacity={0.8} stroke="#1c2430" strokeWidth={0.5} />
              <text x={lx + 14} y={ly} fontSize={11} fill="#1c2430">
                {`#${r.runId} ${cut(r.name, NAME_MAX)}${r.task.rate !== null ? ` (task ${pct(r.task.rate, 0)})` : ''}`}
              </text>
            </g>
          );
        })}
      </g>
    </svg>
  );
}
