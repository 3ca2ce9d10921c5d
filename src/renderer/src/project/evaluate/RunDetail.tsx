/** One evaluation run opened: its metrics and the example inspector, reloaded while its job runs. */
import { useEffect, useState } from 'react';
import type { EvalRun } from '../../../../shared/eval';
import { useCall, useEvent } from '../../api/hooks';
import { Card, ErrorBanner, Spinner } from '../../components/ui';
import { Inspector } from './Inspector';
import { MetricsTables } from './MetricsTables';

export function RunDetail({ id, onChanged }: { id: number; onChanged: () => void }) {
  const run = useCall('eval.get', { id }, [id]);
  const taxonomy = useCall('data.taxonomy', {});
  const [data, setData] = useState<EvalRun | null>(null);
  useEffect(() => setData(run.data ?? null), [run.data]);
  const [version, setVersion] = useState(0);
  useEvent('job.updated', (j) => j.type === 'eval.run' && j.id === data?.jobId && (run.reload(), setVersion((v) => v + 1)));
  if (!data) return run.error ? <ErrorBanner error={run.error} /> : <Spinner label="Loading run" />;
  const suiteIds = [...new Set(data.metrics.map((m) => m.suiteId))];
  const catName = (id: string) =>
    id === 'uncategorised' ? 'uncategorised (no harm category)' : (taxonomy.data?.categories.find((c) => c.id === id)?.name ?? id);
  return (
    <Card title={`Run #${data.id}: ${data.name}`} actions={<span className="muted small">{data.generator}</span>}>
      {data.failedSuites.map((f) => (
        <p key={f.suite} className="field-error" role="alert">
          Suite {f.suite} failed and was left out: {f.error}
        </p>
      ))}
      <MetricsTables run={data} categoryName={catName} />
      <Inspector
        runId={id}
        suiteIds={suiteIds}
        version={version}
        onCorrected={(updated) => {
          setData(updated);
          setVersion((v) => v + 1);
          onChanged();
        }}
      />
    </Card>
  );
}
