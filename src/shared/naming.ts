/**
 * Names that say what a run is, defined once: the model, the adapter (the training run that made it),
 * the method, the safety selection and the steps. Used for training and evaluation job titles, run
 * titles, Compare tables and CSV columns, so a base model and a fine-tuned one are never confused.
 */
import { SELECTION_METHODS } from './methods/select';
import { TRAIN_METHODS } from './methods/train';

/** "stories260K" for /models/stories260K.gguf; a Hugging Face folder's own name. */
export function modelName(path: string): string {
  const last = path.split(/[\\/]/).filter(Boolean).pop() ?? path;
  return last.replace(/\.(gguf|onnx|safetensors|bin)$/i, '');
}

/** A file's name without its folders ("gsm8k_train.jsonl"). */
export function fileName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

/** What a training run is made of, as far as its name goes. */
export interface TrainRunFacts {
  /** The train.run job's id (the run's number); null before it has one. */
  jobId: number | null;
  modelPath: string;
  method: string;
  /** The saved selection of safety examples it trained with, when any. */
  selection: { name: string; method: string } | null;
  maxSteps: number;
  /** Passes over the examples, when the run was given epochs instead of steps. */
  epochs?: number;
  /** LoRA (an adapter; the default) or full-parameter training (a new model). */
  mode?: 'lora' | 'full';
  /** Share of poisoned pairs mixed into the task data, when the run had any. */
  poisonRate?: number;
}

/** "DER", "plain": a training method's short name. */
export function trainMethodName(method: string): string {
  if (method === 'plain') return 'plain';
  return (TRAIN_METHODS as Record<string, { label: string }>)[method]?.label ?? method;
}

/** 'SSS-B "pool 40"': a saved selection by its method and name. */
export function selectionName(selection: { name: string; method: string }): string {
  const label = (SELECTION_METHODS as Record<string, { label: string }>)[selection.method]?.label ?? selection.method;
  return `${label} "${selection.name}"`;
}

/** "DER · SSS-B "pool 40" · 20 steps" (or "· 2 epochs"): how a run was trained. */
export function trainRecipe(f: Omit<TrainRunFacts, 'jobId' | 'modelPath'>): string {
  return [
    trainMethodName(f.method),
    f.selection ? selectionName(f.selection) : 'no safety examples',
    ...(f.poisonRate ? [`${+(100 * f.poisonRate).toFixed(2)}% poisoned`] : []),
    f.epochs !== undefined ? `${f.epochs} epoch${f.epochs === 1 ? '' : 's'}` : `${f.maxSteps} steps`,
  ].join(' · ');
}

/** "stories260K + LoRA run #12 (DER · SSS-B "pool 40" · 20 steps)", "… fully fine-tuned run #13 (…)": a fine-tuned model, said fully. */
export function trainRunName(f: TrainRunFacts): string {
  const how = f.mode === 'full' ? ' fully fine-tuned' : ' + LoRA';
  return `${modelName(f.modelPath)}${how}${f.jobId !== null ? ` run #${f.jobId}` : ''} (${trainRecipe(f)})`;
}

/**
 * The model an evaluation ran: "stories260K (base, no adapter)", the training run that made its
 * adapter, or "stories260K + adapter <folder>" for an adapter from elsewhere.
 */
export function evaluatedModelName(modelPath: string, adapter: { path: string; run: TrainRunFacts | null } | null): string {
  if (!adapter) return `${modelName(modelPath)} (base, no adapter)`;
  if (adapter.run) return trainRunName(adapter.run);
  const parts = adapter.path.split(/[\\/]/).filter(Boolean);
  // a workbench run keeps its adapter in runs/train-N/adapter: name the run folder too
  const folder = parts.slice(-2).join('/');
  return `${modelName(modelPath)} + adapter ${folder}`;
}
