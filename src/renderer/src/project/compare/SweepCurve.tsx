/**
 * Compare: a coefficient sweep as a curve — attack success and over-refusal against the task score
 * (or α when no task suite was evaluated), one point per α labelled with it, with 95% intervals —
 * and a table of each α's step and numbers. Refetched when the sweep moves on.
 */
import { useState } from 'react';
import type { MergeSweep } from '../../../../shared/merge';
import { useCall, useEvent } from '../../api/hooks';
import { Card, ErrorBanner, SelectField } from '../../components/ui';
import { pct, rateText } from '../format';
import { sweepCurve, xDomain, type SweepCurve as Curve } from './sweepCurve';

const W = 560;
const H = 360;
const M = { left: 56, right: 16, top: 16, bottom: 44 };
const SERIES = [
  { key: 'attackSuccess', label: 'Attack success', color: '#c2410c' },
  { key: 'overRefusal', label: 'Over-refusal', color: '#2457c5' },
] as const;

export function SweepCurves({ projectId }: { projectId: number }) {
  const sweeps = useCall('merge.sweeps', { projectId }, [projectId]);
  useEvent('merge.sweepChanged', (e) => e.projectId === projectId && sweeps.reload());
  const [chosen, setChosen] = useState('');
  const list = sweeps.data ?? [];
  if (list.length === 0) return sweeps.error ? <ErrorBanner error={sweeps.error} /> : null;
  const sweep = list.find((s) => String(s.id) === chosen) ?? list[0]!;
  return (
    <Card title="Coefficient sweeps">
      <ErrorBanner error={sweeps.error} />
      <SelectField
        label="Sweep"
        value={String(sweep.id)}
        options={list.map((s) => ({ value: String(s.id), label: `#${s.id} ${s.name}` }))}
        onChange={setChosen}
      />
      <SweepView sweep={sweep} />
    </Card>
  );
}

function SweepView({ sweep }: { sweep: MergeSweep }) {
  const curve = sweepCurve(sweep);
  return (
    <div className="sweep" data-sweep-id={sweep.id}>
      {curve.points.length > 0 ? (
        <CurveSvg curve={curve} />
      ) : (
        <p className="muted small">No α evaluated yet{sweep.evaluates ? '' : ' (this sweep merges without evaluating)'}.</p>
      )}
      {curve.pending.length > 0 && sweep.evaluates && <p className="muted small">Not evaluated yet: α = {curve.pending.join(', ')}.</p>}
      <table className="table metrics" aria-label="Sweep points">
        <thead>
          <tr>
            <th scope="col">α</th>
            <th scope="col">Step</th>
            <th scope="col">Attack success</th>
            <th scope="col">Over-refusal</th>
            <th scope="col">Task score</th>
          </tr>
        </thead>
        <tbody>
          {sweep.points.map((p) => (
            <tr key={p.alpha} data-alpha={p.alpha}>
              <td>{p.alpha}</td>
              <td data-stage={p.stage}>
                {p.stage} · {p.state}
              </td>
              <td>{rateText(p.summary?.attackSuccess)}</td>
              <td>{rateText(p.summary?.overRefusal)}</td>
              <td>{rateText(p.summary?.task)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CurveSvg({ curve }: { curve: Curve }) {
  const [x0, x1] = xDomain(curve);
  const x = (v: number) => M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - v * (H - M.top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const xTicks = curve.axis === 'task' ? ticks : ticks.map((t) => x0 + t * (x1 - x0));
  const label = curve.axis === 'task' ? 'Task score →' : 'α (no task suite evaluated) →';
  return (
    <svg
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      className="scatter"
      role="img"
      aria-label="Sweep curve: attack success and over-refusal per α"
    >
      <rect x={0} y={0} width={W} height={H} fill="#ffffff" />
      {ticks.map((t, i) => (
        <g key={t}>
          <line x1={x(xTicks[i]!)} x2={x(xTicks[i]!)} y1={y(0)} y2={y(1)} stroke="#e5e7eb" />
          <line x1={x(x0)} x2={x(x1)} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={x(xTicks[i]!)} y={H - M.bottom + 16} fontSize={11} textAnchor="middle" fill="#5b6675">
            {curve.axis === 'task' ? pct(t, 0) : Number(xTicks[i]!.toFixed(2))}
          </text>
          <text x={M.left - 6} y={y(t) + 4} fontSize={11} textAnchor="end" fill="#5b6675">
            {pct(t, 0)}
          </text>
        </g>
      ))}
      <text x={(x(x0) + x(x1)) / 2} y={H - 8} fontSize={12} textAnchor="middle" fill="#1c2430">
        {label}
      </text>
      <text transform={`translate(14 ${(y(0) + y(1)) / 2}) rotate(-90)`} fontSize={12} textAnchor="middle" fill="#1c2430">
        Rate (95% intervals)
      </text>
      {SERIES.map((s, si) => (
        <g key={s.key} data-series={s.key}>
          <polyline fill="none" stroke={s.color} strokeWidth={1.5} points={curve.points.map((p) => `${x(p.x)},${y(p[s.key].rate ?? 0)}`).join(' ')} />
          {curve.points.map((p, pi) => {
            const r = p[s.key];
            // points at the same place (a tiny model's equal scores): their α labels stack instead of overprinting
            const under = curve.points.slice(0, pi).filter((q) => Math.abs(x(q.x) - x(p.x)) < 8 && Math.abs(y(q[s.key].rate ?? 0) - y(r.rate ?? 0)) < 8).length;
            return (
              <g key={p.alpha} data-alpha={p.alpha}>
                {r.low !== null && r.high !== null && (
                  <line x1={x(p.x)} x2={x(p.x)} y1={y(r.low)} y2={y(r.high)} stroke={s.color} strokeOpacity={0.4} strokeWidth={3} />
                )}
                {si === 0 && p.xLow !== null && p.xHigh !== null && (
                  <line x1={x(p.xLow)} x2={x(p.xHigh)} y1={y(r.rate ?? 0)} y2={y(r.rate ?? 0)} stroke={s.color} strokeOpacity={0.4} />
                )}
                <circle cx={x(p.x)} cy={y(r.rate ?? 0)} r={4} fill={s.color}>
                  <title>{`α = ${p.alpha}: ${s.label.toLowerCase()} ${rateText(r)}`}</title>
                </circle>
                <text x={x(p.x) + 6} y={y(r.rate ?? 0) - 6 + (r.rate !== null && r.rate > 0.9 ? 1 : -1) * -12 * under} fontSize={10} fill={s.color}>
                  α={p.alpha}
                </text>
              </g>
            );
          })}
          <g transform={`translate(${W - M.right - 130} ${M.top + 4 + si * 16})`}>
            <rect width={10} height={10} fill={s.color} />
            <text x={14} y={9} fontSize={11} fill="#1c2430">
              {s.label}
            </text>
          </g>
        </g>
      ))}
    </svg>
  );
}
