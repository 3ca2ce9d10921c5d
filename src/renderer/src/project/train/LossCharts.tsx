import type { TrainMetric } from '../../../../shared/train';

/** The total loss, the task loss and each safety term, each on its own scale. */
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

function LossChart({ label, steps, values, maxStep }: { label: string; steps: number[]; values: number[]; maxStep: number }) {
  const W = 520;
  const H = 140;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const pts = values.map((v, i) => `${(steps[i]! / maxStep) * (W - 40) + 36},${H - 20 - ((v - min) / (max - min || 1)) * (H - 36)}`).join(' ');
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="loss-chart" role="img" aria-label={label}>
      <text x={36} y={12} fontSize={11} fontWeight={600} fill="#1c2430">
        {label}
      </text>
      <text x={4} y={24} fontSize={10} fill="#5b6675">
        {max.toFixed(3)}
      </text>
      <text x={4} y={H - 20} fontSize={10} fill="#5b6675">
        {min.toFixed(3)}
      </text>
      <text x={W - 4} y={H - 4} fontSize={10} textAnchor="end" fill="#5b6675">
        step {maxStep}
      </text>
      <line x1={36} x2={W - 4} y1={H - 20} y2={H - 20} stroke="#d9dde3" />
      <polyline points={pts} fill="none" stroke="#2457c5" strokeWidth={1.5} />
    </svg>
  );
}
