/** Attack success against over-refusal, one point per run (sized by task score) with 95% intervals. */
import type { RefObject } from 'react';
import { pct } from '../format';
import type { CompareRow as Row } from './compareCsv';

export const W = 560;
export const H = 360;
const M = { left: 56, right: 16, top: 16, bottom: 44 };

export function Scatter({ rows, svgRef }: { rows: Row[]; svgRef: RefObject<SVGSVGElement | null> }) {
  const x = (v: number) => M.left + v * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - v * (H - M.top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <svg ref={svgRef} xmlns="http://www.w3.org/2000/svg" viewBox={`0 0 ${W} ${H}`} width={W} height={H} className="scatter" role="img" aria-label="Attack success against over-refusal">
      <rect x={0} y={0} width={W} height={H} fill="#ffffff" />
      {ticks.map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={y(0)} y2={y(1)} stroke="#e5e7eb" />
          <line x1={x(0)} x2={x(1)} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={x(t)} y={H - M.bottom + 16} fontSize={11} textAnchor="middle" fill="#5b6675">
            {pct(t, 0)}
          </text>
          <text x={M.left - 6} y={y(t) + 4} fontSize={11} textAnchor="end" fill="#5b6675">
            {pct(t, 0)}
          </text>
        </g>
      ))}
      <text x={(x(0) + x(1)) / 2} y={H - 8} fontSize={12} textAnchor="middle" fill="#1c2430">
        Over-refusal (benign prompts refused) →
      </text>
      <text transform={`translate(14 ${(y(0) + y(1)) / 2}) rotate(-90)`} fontSize={12} textAnchor="middle" fill="#1c2430">
        Attack success (harmful prompts answered) →
      </text>
      {rows.map((r) => {
        const ox = r.overRefusal.rate ?? 0;
        const oy = r.attackSuccess.rate ?? 0;
        const util = r.task.rate;
        return (
          <g key={r.runId} data-run-id={r.runId}>
            {r.attackSuccess.low !== null && r.attackSuccess.high !== null && (
              <line x1={x(ox)} x2={x(ox)} y1={y(r.attackSuccess.low)} y2={y(r.attackSuccess.high)} stroke="#2457c5" strokeOpacity={0.4} />
            )}
            {r.overRefusal.low !== null && r.overRefusal.high !== null && (
              <line x1={x(r.overRefusal.low)} x2={x(r.overRefusal.high)} y1={y(oy)} y2={y(oy)} stroke="#2457c5" strokeOpacity={0.4} />
            )}
            <circle cx={x(ox)} cy={y(oy)} r={util === null ? 5 : 4 + 8 * util} fill="#2457c5" fillOpacity={0.8}>
              <title>{`#${r.runId} ${r.name}: attack success ${pct(oy)}, over-refusal ${pct(ox)}, task ${pct(util)}`}</title>
            </circle>
            <text x={x(ox) + 8} y={y(oy) - 8} fontSize={11} fill="#1c2430">
              #{r.runId}
              {util !== null ? ` (task ${pct(util, 0)})` : ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
