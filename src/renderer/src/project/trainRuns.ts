/**
 * A project's finished training runs as the next steps offer them: named (src/shared/naming) with
 * their base model and adapter, so Evaluate picks an adapter from runs instead of a typed path, and
 * "Evaluate this run" hands the run to the Evaluate form; a selection saved in Select is handed to the
 * Train form the same way. Pure (no API): useTrainRuns.ts loads them.
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
  const p = job.params as {
    modelPath: string;
    method: string;
    selectionId?: number;
    maxSteps: number;
    epochs?: number;
    mode?: 'lora' | 'full';
    poison?: { rate: number };
  };
  const sel = p.selectionId ? selections.find((s) => s.id === p.selectionId) : undefined;
  return {
    jobId: job.id,
    modelPath: p.modelPath,
    method: p.method,
    selection: sel ? { name: sel.name, method: sel.method } : null,
    maxSteps: p.maxSteps,
    ...(p.epochs !== undefined ? { epochs: p.epochs } : {}),
    ...(p.mode ? { mode: p.mode } : {}),
    ...(p.poison?.rate ? { poisonRate: p.poison.rate } : {}),
  };
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

/** The Train form's key within a project (model, safety examples, template). */
export const trainFormKey = (projectId: number): string => formKey('train', projectId, 'form');

/** Hands a selection just saved in Select to the Train form: chosen under Safety examples the next time it mounts. */
export function presetTrainSelection(projectId: number, selectionId: number): void {
  presetFields(trainFormKey(projectId), { selectionId: String(selectionId), selectionPicked: false });
}

/**
 * The selection the Train form shows: the one it holds while that is still saved; else, unless the
 * user picked one (or "none") in the form itself, the newest saved selection. `saved` is newest
 * first, as select.list returns it; undefined while loading.
 */
export function trainSelection(f: { selectionId: string; selectionPicked: boolean }, saved: readonly { id: number }[] | undefined): string {
  if (!saved) return f.selectionId;
  if (f.selectionId && saved.some((s) => String(s.id) === f.selectionId)) return f.selectionId;
  if (f.selectionPicked) return '';
  return saved[0] ? String(saved[0].id) : '';
}
