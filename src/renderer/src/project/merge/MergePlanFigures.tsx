/**
 * A merge plan's figures: the output's size against the free disk where models/ is (a warning when it
 * does not fit), and the merge's peak memory.
 */
import type { MergePlanSummary } from '../../../../shared/merge';

const size = (b: number) =>
  b < 2 ** 20 ? `${(b / 2 ** 10).toFixed(1)} KiB` : b < 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(2)} GiB`;

/** A plan's figures, with a warning when the output does not fit the free disk. */
export function MergePlanFigures({ plan: p }: { plan: MergePlanSummary }) {
  const tooBig = p.freeBytes !== null && p.outputBytes > p.freeBytes;
  return (
    <div className="merge-preview" data-testid="merge-preview" data-output-bytes={p.outputBytes}>
      <p className="small">
        Output: <strong>{size(p.outputBytes)}</strong> ({p.format === 'gguf' ? 'GGUF file' : 'Hugging Face folder'}, {p.tensors} tensors, {size(p.bytesRead)}{' '}
        read from the inputs) · Peak memory: <strong>about {size(p.peakMemoryBytes)}</strong> ({p.threads} {p.threads === 1 ? 'thread' : 'threads'}, buffers{' '}
        {size(p.bufferBytes)}) · Free disk: {p.freeBytes === null ? 'unknown' : size(p.freeBytes)}
      </p>
      {tooBig && (
        <div className="banner banner-warning" role="alert">
          The merged model needs {size(p.outputBytes)} but only {size(p.freeBytes!)} is free where models/ is: free some space first, or the merge will stop
          when the disk is full (nothing is kept).
        </div>
      )}
    </div>
  );
}
