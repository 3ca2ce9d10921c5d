/**
 * The merge's sizes before it starts (merge.plan reads the models' headers): the output's size
 * against the free disk where models/ is (a warning when it does not fit), and the merge's peak
 * memory. Recomputed a moment after the form stops changing.
 */
import { useEffect, useState } from 'react';
import type { MergeConfig } from '../../../../shared/merge';
import { useCall } from '../../api/hooks';
import { ErrorBanner } from '../../components/ui';

const size = (b: number) => (b < 2 ** 20 ? `${(b / 2 ** 10).toFixed(1)} KiB` : b < 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(2)} GiB`);

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
  const p = plan.data;
  const tooBig = p.freeBytes !== null && p.outputBytes > p.freeBytes;
  return (
    <div className="merge-preview" data-testid="merge-preview" data-output-bytes={p.outputBytes}>
      <p className="small">
        Output: <strong>{size(p.outputBytes)}</strong> ({p.format === 'gguf' ? 'GGUF file' : 'Hugging Face folder'}, {p.tensors} tensors, {size(p.bytesRead)} read from the inputs) ·
        Peak memory: <strong>about {size(p.peakMemoryBytes)}</strong> ({p.threads} {p.threads === 1 ? 'thread' : 'threads'}, buffers {size(p.bufferBytes)}) ·
        Free disk: {p.freeBytes === null ? 'unknown' : size(p.freeBytes)}
      </p>
      {tooBig && (
        <div className="banner banner-warning" role="alert">
          The merged model needs {size(p.outputBytes)} but only {size(p.freeBytes!)} is free where models/ is: free some space first, or the merge will stop when the disk is full (nothing is kept).
        </div>
      )}
    </div>
  );
}
