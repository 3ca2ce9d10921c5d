/**
 * Training curves: the total loss, the task loss and each safety term, each on its own scale, with
 * axis ticks at nice numbers and the nearest point's value shown on hover.
 */
import { useState, type MouseEvent } from 'react';
import type { TrainMetric } from '../../../../shared/train';
import { nearestIndex } from '../../charts/nearest';
import { integerTicks, niceTicks, tickLabel } from '../../charts/ticks';

export function LossCharts({ metrics }: { metrics: TrainMetric[] }) {
  const terms = [...new Set(metrics.flatMap((m) => Object.keys(m.terms ?? {})))];
  const series = [
    { label: 'Total loss', values: metrics.map((m) => m.loss) },
    { label: 'Task loss (cross-entropy)', values: metrics.map((m) => m.taskLoss) },
    ...terms.map((t) => ({ label: `${t.toUpperCase()} term`, values: metrics.map((m) => m.terms?.[t] ?? 0) })),
  ];
  // with no safety term the total is the task loss: one chart says it
  const shown = terms.length ? series : series.slice(1);
  return (
    <div className="loss-charts">
      {shown.map((s) => (
        <LossChart key={s.label} label={s.label} steps={metrics.map((m) => m.step)} values={s.values} maxStep={metrics[0]!.maxSteps} />
      ))}
    </div>
  );
}

const W = 520;
const H = 160;
const M = { left: 48, right: 12, top: 22, bottom: 30 };

export function LossChart({ label, steps, values, maxStep }: { label: string; steps: number[]; values: number[]; maxStep: number }) {
  const [hover, setHover] = useState<number | null>(null);
  const yTicks = niceTicks(Math.min(...values), Math.max(...values), 4);
  const [y0, y1] = [yTicks[0]!, yTicks.at(-1)!];
  const xTicks = integerTicks(maxStep, 6);
  const yStep = yTicks.length > 1 ? yTicks[1]! - yTicks[0]! : 0;
  const sx = (s: number) => M.left + (s / Math.max(1, maxStep)) * (W - M.left - M.right);
  const sy = (v: number) => H - M.bottom - ((v - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const pts = values.map((v, i) => `${sx(steps[i]!)},${sy(v)}`).join(' ');
  const onMove = (e: MouseEvent<SVGSVGElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * W;
    setHover(nearestIndex(steps.map(sx), x));
  };
  const h = hover === null ? null : { x: sx(steps[hover]!), y: sy(values[hover]!), step: steps[hover]!, value: values[hover]! };
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="loss-chart" role="img" aria-label={label} onMouseMove={onMove} onMouseLeave={() => setHover(null)}>
      <text x={M.left} y={14} fontSize={11} fontWeight={600} fill="#1c2430">
        {label}
      </text>
      {yTicks.map((t) => (
        <g key={`y${t}`} className="y-tick">
          <line x1={M.left} x2={W - M.right} y1={sy(t)} y2={sy(t)} stroke="#eceef2" />
          <text x={M.left - 4} y={sy(t) + 3} fontSize={10} textAnchor="end" fill="#5b6675">
            {tickLabel(t, yStep)}
          </text>
        </g>
      ))}
      {xTicks.map((t) => (
        <g key={`x${t}`} className="x-tick">
          <line x1={sx(t)} x2={sx(t)} y1={H - M.bottom} y2={H - M.bottom + 4} stroke="#9aa3af" />
          <text x={sx(t)} y={H - M.bottom + 14} fontSize={10} textAnchor="middle" fill="#5b6675">
            {t}
          </text>
        </g>
      ))}
      <text x={W - M.right} y={H - 3} fontSize={10} textAnchor="end" fill="#5b6675">
        step
      </text>
      <line x1={M.left} x2={W - M.right} y1={H - M.bottom} y2={H - M.bottom} stroke="#9aa3af" />
      <polyline points={pts} fill="none" stroke="#0072B2" strokeWidth={1.5} />
      {h && (
        <g className="hover-value" pointerEvents="none">
          <line x1={h.x} x2={h.x} y1={M.top} y2={H - M.bottom} stroke="#9aa3af" strokeDasharray="3 3" />
          <circle cx={h.x} cy={h.y} r={3.5} fill="#0072B2" />
          <text x={h.x > W / 2 ? h.x - 6 : h.x + 6} y={M.top + 10} fontSize={11} textAnchor={h.x > W / 2 ? 'end' : 'start'} fill="#1c2430">
            {`step ${h.step}: ${h.value.toFixed(4)}`}
          </text>
        </g>
      )}
    </svg>
  );
}
