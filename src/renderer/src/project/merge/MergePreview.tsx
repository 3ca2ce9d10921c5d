/**
 * The merge's sizes before it starts (merge.plan reads the models' headers), shown by
 * MergePlanFigures. Recomputed a moment after the form stops changing.
 */
import { useEffect, useState } from 'react';
import type { MergeConfig } from '../../../../shared/merge';
import { useCall } from '../../api/hooks';
import { ErrorBanner } from '../../components/ui';
import { MergePlanFigures } from './MergePlanFigures';

export function MergePreview({ config, format }: { config: MergeConfig; format: 'hf' | 'gguf' | undefined }) {
  const input = { run: { config }, ...(format ? { format } : {}) };
  const key = JSON.stringify(input);
  const [settled, setSettled] = useState(key);
  useEffect(() => {
    const t = setTimeout(() => setSettled(key), 400);
    return () => clearTimeout(t);
  }, [key]);
  const plan = useCall('merge.plan', JSON.parse(settled) as typeof input, [settled]);
  if (plan.error) return <ErrorBanner error={plan.error} />;
  if (!plan.data || plan.loading || settled !== key) return <p className="muted small merge-preview">Working out the merge’s size…</p>;
  return <MergePlanFigures plan={plan.data} />;
}
