/**
 * A project's finished training runs as the next steps offer them: named (src/shared/naming) with
 * their base model and adapter, so Evaluate picks an adapter from runs instead of a typed path, and
 * "Evaluate this run" hands the run to the Evaluate form. Pure (no API): useTrainRuns.ts loads them.
 */
import type { Job } from '../../../shared/domain';
import { trainRunName, type TrainRunFacts } from '../../../shared/naming';
import { formKey, presetFields } from '../forms/persist';

export interface FinishedTrainRun {
  jobId: number;
  modelPath: string;
  adapterPath: string;
  /** "stories260K + LoRA run #12 (DER · SSS-B "pool 40" · 20 steps)" */
  name: string;
}

/** What a train.run job's parameters say about it, with its selection's name and method. */
export function trainRunFacts(job: Job, selections: readonly { id: number; name: string; method: string }[]): TrainRunFacts {
  const p = job.params as { modelPath: string; method: string; selectionId?: number; maxSteps: number; epochs?: number; mode?: 'lora' | 'full' };
  const sel = p.selectionId ? selections.find((s) => s.id === p.selectionId) : undefined;
  return { jobId: job.id, modelPath: p.modelPath, method: p.method, selection: sel ? { name: sel.name, method: sel.method } : null, maxSteps: p.maxSteps, ...(p.epochs !== undefined ? { epochs: p.epochs } : {}), ...(p.mode ? { mode: p.mode } : {}) };
}

/** The succeeded training runs that wrote an adapter, newest first. */
export function finishedTrainRuns(jobs: readonly Job[], selections: readonly { id: number; name: string; method: string }[]): FinishedTrainRun[] {
  return jobs
    .filter((j) => j.type === 'train.run' && j.state === 'succeeded' && typeof (j.result as { adapterPath?: unknown } | null)?.adapterPath === 'string')
    .sort((a, b) => b.id - a.id)
    .map((j) => {
      const facts = trainRunFacts(j, selections);
      return { jobId: j.id, modelPath: facts.modelPath, adapterPath: (j.result as { adapterPath: string }).adapterPath, name: trainRunName(facts) };
    });
}

/** The Evaluate form's key within a project. */
export const evaluateFormKey = (projectId: number): string => formKey('evaluate', projectId, 'form');

/** Opens Evaluate on a finished run: the local engine, the run's base model and adapter chosen, no name typed. */
export function presetEvaluateRun(projectId: number, jobId: number): void {
  presetFields(evaluateFormKey(projectId), { backend: 'engine', adapterRun: String(jobId), name: '' });
}
