import { BASE_QUANTS, type TrainMemoryInput } from '../../../../shared/train';
import { useCall } from '../../api/hooks';
import { ErrorBanner } from '../../components/ui';

const gib = (b: number) => (b < 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(2)} GiB`);

/** Estimated peak memory of the run as configured (LoRA or full-parameter), before it starts. */
export function MemoryEstimate({ input }: { input: TrainMemoryInput }) {
  const est = useCall('train.estimateMemory', input, [
    input.modelPath,
    input.mode,
    input.batchSize,
    input.maxLength,
    input.rank,
    input.targetModules?.join(),
    input.trainable?.join(),
    input.dropout,
    input.recompute,
    input.frozenWeightDtype,
    input.baseQuant,
  ]);
  if (est.error) return <ErrorBanner error={est.error} />;
  if (!est.data) return null;
  const e = est.data;
  const full = input.mode === 'full';
  return (
    <p className="muted small" data-testid="memory-estimate">
      Estimated peak memory: <strong>{gib(e.totalBytes)}</strong> (
      {full ? <>trained weights with their gradients and AdamW moments {gib(e.trainedBytes)}, </> : null}frozen weights {gib(e.weightsBytes)}
      {input.baseQuant && input.baseQuant !== 'none' && !full ? <> as {BASE_QUANTS[input.baseQuant].label}</> : null}, activations kept for the backward pass{' '}
      {gib(e.activationsBytes)}, logits {gib(e.logitsBytes)}
      {full ? null : <>, adapter and optimiser {gib(e.adapterBytes)}</>}; ±25%). Lower the batch size or max tokens per example
      {full ? ', or train fewer weights,' : ''} if this is more than the machine has free.
    </p>
  );
}
