/**
 * A grid's trade-off scatter: one point per arm — attack success against the task score (against
 * over-refusal when no task suite was evaluated) — with its 95% intervals over seeds on both axes.
 * Title and axis labels are inside the SVG so an exported file stands on its own.
 */
import type { RefObject } from 'react';
import type { ExperimentSummary } from '../../../../shared/experiments';
import { categorical } from '../../charts/palette';
import { pct } from '../format';

const W = 600;
const H = 400;
const M = { left: 56, right: 170, top: 40, bottom: 44 };

export function TradeOff({ summary, svgRef }: { summary: ExperimentSummary; svgRef: RefObject<SVGSVGElement | null> }) {
  const arms = summary.arms.filter((a) => a.attackSuccess.mean !== null);
  const byTask = arms.some((a) => a.task.mean !== null);
  const xOf = (a: (typeof arms)[number]) => (byTask ? a.task : a.overRefusal);
  const x = (v: number) => M.left + v * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - v * (H - M.top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const title = `${summary.name}: attack success against ${byTask ? 'task score' : 'over-refusal'} per arm`;
  return (
    <svg
      ref={svgRef}
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      className="scatter"
      role="img"
      aria-label="Grid trade-off: one point per arm"
    >
      <rect x={0} y={0} width={W} height={H} fill="#ffffff" />
      <text x={W / 2} y={20} fontSize={13} textAnchor="middle" fill="#1c2430">
        {title.length > 80 ? `${title.slice(0, 79)}…` : title}
      </text>
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
        {byTask ? 'Task score →' : 'Over-refusal →'}
      </text>
      <text transform={`translate(14 ${(y(0) + y(1)) / 2}) rotate(-90)`} fontSize={12} textAnchor="middle" fill="#1c2430">
        Attack success (95% intervals)
      </text>
      {arms.map((a, i) => {
        const colour = categorical(i);
        const ex = xOf(a);
        const cx = x(ex.mean ?? 0);
        const cy = y(a.attackSuccess.mean!);
        return (
          <g key={a.arm} data-arm={a.arm}>
            {a.attackSuccess.low !== null && a.attackSuccess.high !== null && (
              <line x1={cx} x2={cx} y1={y(a.attackSuccess.low)} y2={y(a.attackSuccess.high)} stroke={colour} strokeOpacity={0.5} strokeWidth={2} />
            )}
            {ex.low !== null && ex.high !== null && <line x1={x(ex.low)} x2={x(ex.high)} y1={cy} y2={cy} stroke={colour} strokeOpacity={0.5} strokeWidth={2} />}
            <circle cx={cx} cy={cy} r={5} fill={colour}>
              <title>{`${a.arm} (${a.seeds} seeds): attack success ${pct(a.attackSuccess.mean)}, ${byTask ? 'task score' : 'over-refusal'} ${pct(ex.mean)}`}</title>
            </circle>
            <g transform={`translate(${W - M.right + 12} ${M.top + i * 16})`}>
              <rect width={10} height={10} fill={colour} />
              <text x={14} y={9} fontSize={11} fill="#1c2430">
                {a.arm.length > 24 ? `${a.arm.slice(0, 23)}…` : a.arm}
              </text>
            </g>
          </g>
        );
      })}
    </svg>
  );
}
