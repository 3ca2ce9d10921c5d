/**
 * One fine-tuning arm of the miniature: the aligned model fine-tuned (every weight) on the task
 * data, plain, with safety examples chosen by one of the project's samplers mixed in (replay /
 * SafeInstr), or with Dark Experience Replay over such a selection (the aligned model's logits on
 * the buffer as the target).
 */
import { openModel } from '../engine';
import type { LoadedModel } from '../engine/model/loaded';
import { Trainer, derTerm, recordTeacherLogits, type StepMetrics, type TrainingTerm } from '../engine/train';
import { beavertailsIds } from '../data/taxonomy';
import { buildTrainingMix, poolFromRecords, select, type SelectionResult } from '../select';
import { chatExample } from './aligned';
import type { Pair, PoolRecord } from './data';
import type { ArmSpec, FinetuneConfig } from './recipe';

/** The pool records an arm's method picks at its budget (a share of the task data), with the given seed. */
export function selectForArm(pool: readonly PoolRecord[], arm: ArmSpec, seed: number, taskSize: number): SelectionResult | null {
  if (arm.kind === 'plain') return null;
  const sp = poolFromRecords(pool, beavertailsIds());
  return select(sp, { method: arm.method, budget: { fraction: arm.budget, taskSize }, seed });
}

export interface TrainArmOptions {
  aligned: LoadedModel;
  arm: ArmSpec;
  task: Pair[];
  pool: readonly PoolRecord[];
  config: FinetuneConfig;
  seed: number;
  /** override the step count (tests); default epochs × task size / batch size */
  steps?: number;
  threads?: number;
  onProgress?: (m: StepMetrics) => void;
}

export interface ArmRun {
  arm: ArmSpec;
  seed: number;
  /** pool indices of the safety examples used (mixed in, or DER's buffer) */
  selected: number[];
  /** behaviour types of the selected examples */
  selectedBehaviour: Record<string, number>;
  steps: number;
  examples: number;
  finalLoss: number;
  /** the fine-tuned model (its weights live in the trainer; release() when done with it) */
  model: LoadedModel;
  release: () => Promise<void>;
}

/** Fine-tune the aligned model for one arm and seed. */
export async function trainArm(o: TrainArmOptions): Promise<ArmRun> {
  const { arm, config: c } = o;
  const sel = selectForArm(o.pool, arm, o.seed, o.task.length);
  const selected = sel ? Array.from(sel.indices) : [];
  if (sel && sel.shortfall > 0) throw new Error(`${arm.id}: the pool has only ${sel.eligible} eligible records for a budget of ${sel.budget}`);
  const safety: Pair[] = selected.map((i) => ({ prompt: o.pool[i]!.prompt, response: o.pool[i]!.response }));
  const mix = arm.kind === 'mix' ? buildTrainingMix(o.task, safety, { seed: o.seed }) : o.task;
  const examples = mix.map((p) => chatExample(o.aligned, p, c.maxLength));
  const terms: TrainingTerm[] = [];
  if (arm.kind === 'der') {
    const buffer = safety.map((p) => chatExample(o.aligned, p, c.maxLength));
    const rt = await openModel(o.aligned, { threads: o.threads ?? 2, executionProvider: 'cpu' });
    try {
      const teacher = await recordTeacherLogits(rt, buffer, arm.k);
      terms.push(derTerm({ buffer, teacher, alpha: arm.alpha, beta: arm.beta, batchSize: arm.bufferBatch, maxLength: c.maxLength }));
    } finally {
      await rt.release();
    }
  }
  const steps = o.steps ?? Math.max(1, Math.round((c.epochs * examples.length) / c.batchSize));
  const tr = await Trainer.create(o.aligned, examples, {
    full: {},
    lr: c.lr,
    weightDecay: c.weightDecay,
    schedule: { type: 'cosine', warmupSteps: Math.min(c.warmupSteps, steps - 1), minLrRatio: 0.1 },
    maxSteps: steps,
    batchSize: c.batchSize,
    maxLength: c.maxLength,
    seed: o.seed,
    threads: o.threads ?? 2,
    terms,
  });
  try {
    const res = await tr.train({ onProgress: o.onProgress });
    const selectedBehaviour: Record<string, number> = {};
    for (const i of selected) selectedBehaviour[o.pool[i]!.behaviour] = (selectedBehaviour[o.pool[i]!.behaviour] ?? 0) + 1;
    return {
      arm,
      seed: o.seed,
      selected,
      selectedBehaviour,
      steps: res.steps,
      examples: examples.length,
      finalLoss: res.losses.at(-1) ?? NaN,
      model: tr.trainedModel(),
      release: () => tr.release(),
    };
  } catch (e) {
    await tr.release();
    throw e;
  }
}
