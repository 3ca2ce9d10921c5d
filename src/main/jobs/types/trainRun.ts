import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { runBlockedReason, runSteps, trainMethodRow, TrainRunParams, truncationAt, type TrainMetric } from '../../../shared/train';
import { modelName, trainRecipe } from '../../../shared/naming';
import { claimNewFolder, modelsFolder, safeStem } from '../../util/newFiles';
import type { LoadedModel } from '../../engine';
import { parameterCount, type DecoderConfig } from '../../engine/model/config';
import type { QuantizedFrozenWeights, Trainer } from '../../engine/train';
import type { LoadQuantType } from '../../engine/model/quantizeOnLoad';
import { defineJob, ENGINE_JOB_HEAP_MB, ENGINE_YOUNG_GENERATION_MB, type JobContext } from '../define';
import { registerModel } from '../registerModel';
import { engineCacheDir } from '../workspaceResources';
import { lengthProfile, trainingRecords, trainingText, withPoison, type PromptResponse } from './trainExamples';
import { poisonCount } from '../../data/poison';

interface Checkpoint {
  runDir: string;
  /** Full mode: where the trained model goes, once chosen (a resumed job writes to the same place). */
  modelPath?: string;
  /** Full mode: the model at modelPath is written completely (a job resumed after this only registers it). */
  exported?: boolean;
}

export interface TrainRunResult {
  runDir: string;
  /** absent in runs stored before full-parameter training: LoRA */
  mode?: 'lora' | 'full';
  /** LoRA: the PEFT adapter */
  adapterPath?: string;
  /** Full mode: the trained model (a Hugging Face folder or a GGUF file), added to the Models list */
  modelPath?: string;
  modelFormat?: 'hf' | 'gguf';
  /** Full mode: its id in the Models list */
  modelId?: number;
  steps: number;
  finalLoss: number | null;
  /** task examples trained on, poisoned pairs included */
  taskExamples: number;
  safetyExamples: number;
  /** poisoned pairs mixed into the task data (0 without the poison option) */
  poisonExamples: number;
  /** What the method did after training, when it does something (SafeLoRA: the layers it projected). */
  methodResult?: Record<string, unknown>;
  /** The same in one line for the run's card ("SafeLoRA projected 6 of 8 adapter layers …"). */
  methodNote?: string;
}

/** Where a training job keeps its checkpoints, metrics and adapter. */
export function trainRunDir(workspace: string, jobId: number): string {
  return join(workspace, 'runs', `train-${jobId}`);
}

export function readTrainMetrics(runDir: string): TrainMetric[] {
  const file = join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TrainMetric);
}

/**
 * Refuses a run that cannot learn: no task example (replayed safety examples included) keeps a
 * response token at the run's max tokens, or a method's safety examples keep none (DER, EWC and
 * A-GEM would preserve nothing). Logs how many examples lose part or all of their response.
 */
async function checkSomethingToLearn(
  p: TrainRunParams,
  model: LoadedModel,
  task: PromptResponse[],
  safety: PromptResponse[],
  ctx: JobContext<Checkpoint>,
): Promise<void> {
  ctx.progress(null, 'counting response tokens that survive truncation');
  const profiles = {
    task: await lengthProfile(model, p.template, task, ctx.throwIfCancelled),
    safety: safety.length ? await lengthProfile(model, p.template, safety, ctx.throwIfCancelled) : null,
  };
  const blocked = runBlockedReason({ ...profiles, contextLength: model.config.maxPositions }, { id: p.method, row: trainMethodRow(p.method) }, p.maxLength);
  if (blocked) throw new Error(blocked);
  for (const [what, prof] of [
    ['task', profiles.task],
    ['safety', profiles.safety],
  ] as const) {
    if (!prof) continue;
    const t = truncationAt(prof, p.maxLength);
    ctx.log(
      `${what} examples at max tokens ${p.maxLength}: ${t.keepAll} keep their whole response, ${t.losePart} lose part of it, ${t.loseAll} lose all of it`,
    );
    if (t.loseAll > 0.25 * t.examples)
      ctx.log(
        `warning: ${t.loseAll} of ${t.examples} ${what} examples (${Math.round((100 * t.loseAll) / t.examples)}%) have no response token left at max tokens ${p.maxLength}`,
      );
  }
}

/** What quantising the frozen base does to it, in the job's log (matrices quantised, their size before and after). */
function logBaseQuant(cfg: DecoderConfig, type: LoadQuantType, q: QuantizedFrozenWeights, keptOwn: boolean, ctx: JobContext<Checkpoint>): void {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  ctx.log(
    q.params === 0
      ? `warning: no frozen matrix of this model has rows of whole ${type} blocks: the base stays float32`
      : `frozen base quantised on load to ${type}${keptOwn ? ' (the file’s quantised tensors keep their own types)' : ''}: ${(q.params / 1e6).toFixed(2)} M of ${(parameterCount(cfg) / 1e6).toFixed(2)} M weights, ${mib(q.bytes)} instead of ${mib(4 * q.params)} (adapter and compute float32)`,
  );
}

/**
 * Fine-tuning on the project's task data — a LoRA adapter, or full-parameter training of the
 * model's own weights (all, or chosen groups) — optionally with a continual-learning term that
 * preserves safety (replay of a saved selection, DER/DER++, LwF, EWC, L2-SP, A-GEM). Checkpoints
 * (adapter or trained weights + optimiser + data cursor + RNG) are written atomically every
 * `checkpointEvery` steps and on cancel; a resumed job continues exactly from the newest one.
 * A LoRA run ends with a PEFT adapter; a full run writes the whole model (a GGUF file for a GGUF
 * base, else a Hugging Face folder) to a new folder in the workspace's models/ (or its `outPath`),
 * adds it to the Models list and removes its checkpoints (weights and AdamW moments: 12 bytes per
 * trained parameter each).
 */
export const trainRunJob = defineJob<TrainRunParams, Checkpoint, TrainRunResult>({
  type: 'train.run',
  heavy: true,
  youngGenerationMb: ENGINE_YOUNG_GENERATION_MB,
  heapMb: ENGINE_JOB_HEAP_MB,
  params: TrainRunParams,
  title: (p, names) =>
    `Fine-tune ${modelName(p.modelPath)} (${p.mode === 'full' ? 'full · ' : ''}${trainRecipe({ method: p.method, selection: p.selectionId ? (names.selection(p.selectionId) ?? null) : null, maxSteps: p.maxSteps, ...(p.epochs !== undefined ? { epochs: p.epochs } : {}), ...(p.poison?.rate ? { poisonRate: p.poison.rate } : {}) })})`,
  run: (p, ctx) => train(p, null, ctx),
  resume: (p, cp, ctx) => train(p, cp, ctx),
});

async function train(p: TrainRunParams, cp: Checkpoint | null, ctx: JobContext<Checkpoint>): Promise<TrainRunResult> {
  const runDir = trainRunDir(dirname(ctx.db.name), ctx.jobId);
  const checkpointDir = join(runDir, 'checkpoints');
  const weightCacheDir = join(runDir, 'weights');
  const full = p.mode === 'full';
  if (full && cp?.exported && cp.modelPath && existsSync(cp.modelPath)) return finishExported(p, cp.modelPath, runDir, ctx);
  if (full && p.outPath && !cp?.modelPath && existsSync(p.outPath))
    throw new Error(`${p.outPath} already exists: choose a new path for the trained model (it is never overwritten)`);
  mkdirSync(checkpointDir, { recursive: true });
  ctx.saveCheckpoint({ runDir, ...(cp?.modelPath ? { modelPath: cp.modelPath } : {}) });
  const engine = await import('../../engine');
  const T = await import('../../engine/train');

  ctx.progress(null, 'loading the model and data');
  const model = engine.loadModel(p.modelPath);
  // known before training: a run whose model could not be written is refused now, not at the end
  const format = full ? trainedModelFormat(model.config, model.format, (await import('../../engine/hf/configWriter')).hfConfigJson) : null;
  const records = trainingRecords(ctx.db, p);
  if (records.task.length === 0) throw new Error('no task examples with a response to train on: import task data first');
  const { task, poisonExamples } = await withPoison(records.task, p.poison, p.seed);
  if (poisonExamples)
    ctx.log(
      `mixed ${poisonExamples} poisoned pairs from ${p.poison!.file} into ${records.task.length} task examples (${(100 * p.poison!.rate).toFixed(1)}% of the data)`,
    );
  const { safety } = records;
  if (trainMethodRow(p.method).safety && safety.length === 0) throw new Error(`${p.method} needs safety examples: choose a saved selection`);
  await checkSomethingToLearn(p, model, task, safety, ctx);

  const { render, addBos, parseSpecial } = await trainingText(model, p.template);
  const tokenize = (r: { prompt: string; response: string }) => T.tokenizeExample(model.tokenizer, render(r), { maxLength: p.maxLength, addBos, parseSpecial });
  const taskEx = task.map(tokenize);
  const { prepareMethod } = await import('../../train-methods');
  const setup = await prepareMethod(p.method, p.methodParams, {
    model,
    task: taskEx,
    safety: safety.map(tokenize),
    run: { seed: p.seed, maxLength: p.maxLength, batchSize: p.batchSize, lora: p.lora, ...(full ? { full: p.full } : {}) },
    withAlignedModel: async (fn) => {
      const aligned = await engine.openModel(model, { cacheDir: engineCacheDir(ctx.db) });
      try {
        return await fn(aligned);
      } finally {
        await aligned.release();
      }
    },
    progress: (message) => ctx.progress(null, message),
  });

  const examples = setup.task ?? taskEx;
  const maxSteps = runSteps(p, examples.length);
  if (p.epochs !== undefined) ctx.log(`${p.epochs} epochs over ${examples.length} examples at ${p.batchSize * p.gradAccumSteps} per step: ${maxSteps} steps`);
  const baseQuant = T.BASE_QUANT_TYPES[p.baseQuant];
  const options = {
    ...(full ? { full: p.full } : { lora: p.lora }),
    lr: p.lr,
    weightDecay: p.weightDecay,
    schedule: { type: p.schedule, warmupSteps: p.warmupSteps, minLrRatio: p.minLrRatio },
    maxSteps,
    batchSize: p.batchSize,
    gradAccumSteps: p.gradAccumSteps,
    maxLength: p.maxLength,
    recompute: p.recompute,
    frozenWeightDtype: p.frozenWeightDtype,
    // absent for none, so checkpoints of runs stored before the option resume with the same options
    ...(baseQuant ? { baseQuant } : {}),
    seed: p.seed,
    checkpointDir,
    checkpointEvery: p.checkpointEvery,
    // frozen weights streamed to a file onnxruntime memory-maps: one copy in memory, not two
    weightCacheDir,
    terms: setup.terms,
    ...(setup.distill ? { distill: setup.distill } : {}),
  };
  if (baseQuant) {
    const stored = T.storedBlockTypesOf(model.weights);
    logBaseQuant(model.config, baseQuant, T.quantizedFrozenWeights(model.config, baseQuant, new Set(), stored), stored.size > 0, ctx);
  }
  const resumeFrom = T.latestCheckpoint(checkpointDir);
  ctx.progress(null, 'building the training graph');
  let trainer: Trainer | undefined;
  try {
    trainer = resumeFrom ? await T.Trainer.resume(model, examples, options) : await T.Trainer.create(model, examples, options);
    const metricsFile = join(runDir, 'metrics.jsonl');
    // Steps after the checkpoint we resume from are trained again: drop their old metrics.
    const resumedAt = trainer.step;
    const kept = readTrainMetrics(runDir).filter((m) => resumeFrom !== null && m.step <= resumedAt);
    writeFileSync(metricsFile, kept.map((m) => JSON.stringify(m) + '\n').join(''));
    if (resumeFrom) ctx.log(`resuming from ${basename(resumeFrom)} (step ${resumedAt})`);

    let last: number | null = kept.at(-1)?.loss ?? null;
    const res = await trainer.train({
      onProgress: (m) => {
        const metric: TrainMetric = {
          step: m.step,
          maxSteps: m.maxSteps,
          loss: m.loss,
          taskLoss: m.taskLoss,
          terms: m.terms,
          tokens: m.tokens,
          lr: m.lr,
          gradNorm: m.gradNorm,
          tokensPerSecond: m.tokensPerSecond,
        };
        last = m.loss;
        appendFileSync(metricsFile, JSON.stringify(metric) + '\n');
        ctx.stream(JSON.stringify(metric));
        ctx.progress(m.step / m.maxSteps, `step ${m.step}/${m.maxSteps} · loss ${m.loss.toFixed(4)} · ${m.tokensPerSecond.toFixed(0)} tok/s`);
      },
      shouldStop: ctx.cancelled,
    });
    if (res.stopped) ctx.throwIfCancelled();
    const learned = readTrainMetrics(runDir);
    if (learned.length > 0 && learned.every((m) => m.tokens === 0)) {
      throw new Error(
        `the run learned nothing: none of its ${learned.length} steps had a response token to train on (task loss 0 throughout), ` +
          `so no ${full ? 'model' : 'adapter'} is written; raise max tokens per example (${p.maxLength}) so that responses survive truncation`,
      );
    }
    const counts = { steps: res.steps, finalLoss: last, taskExamples: task.length, safetyExamples: safety.length, poisonExamples };
    if (full) {
      const out = writeTrainedModel(trainer, model, format!, p, cp, runDir, ctx);
      rmSync(checkpointDir, { recursive: true, force: true });
      ctx.log('removed the checkpoints (trained weights and AdamW moments): the model is written');
      return { runDir, mode: 'full', ...(await registerTrained(out, ctx)), ...counts };
    }
    const adapterPath = join(runDir, 'adapter');
    const finished = setup.finishAdapter?.(trainer.adapter());
    trainer.exportAdapter(adapterPath, finished?.params);
    if (finished) ctx.log(finished.message);
    return { runDir, mode: 'lora', adapterPath, ...counts, ...(finished ? { methodResult: finished.summary, methodNote: finished.message } : {}) };
  } catch (e) {
    if (e instanceof T.TrainingDivergedError) {
      throw new Error(`${e.message} — the last good checkpoint is kept in ${checkpointDir}`);
    }
    throw e;
  } finally {
    await trainer?.release();
    // rewritten on every (re)start, so nothing is lost by removing it; it is as big as the fp32 weights
    rmSync(weightCacheDir, { recursive: true, force: true });
  }
}

/**
 * How a full run writes its model: as the base is stored (a GGUF file, a Hugging Face folder),
 * except a GGUF base the GGUF writer cannot express (it writes llama / mistral without rope scaling
 * or attention biases), written as a Hugging Face folder instead when its config can be; a model
 * that can be written neither way is refused before any training.
 */
export function trainedModelFormat(cfg: DecoderConfig, base: 'hf' | 'gguf', hfConfig: (cfg: DecoderConfig) => unknown): 'hf' | 'gguf' {
  if (base === 'hf') return 'hf';
  if ((cfg.architecture === 'llama' || cfg.architecture === 'mistral') && !cfg.ropeScaling && !cfg.attentionBias) return 'gguf';
  try {
    hfConfig(cfg);
    return 'hf';
  } catch (e) {
    throw new Error(
      `full-parameter training of this ${cfg.architecture} GGUF model could not write its result (${(e as Error).message}; GGUF files are written for llama and mistral models): train its Hugging Face folder instead`,
    );
  }
}

/**
 * Full mode: writes the trained model — a GGUF file (F32 when the base is all F32, else F16, as
 * merged models are) or a Hugging Face folder (F16 when the base is all F16, else F32) — to
 * `outPath`, or to a new folder in the workspace's models/ named after the base and the run
 * (`models/stories260K+train-7/stories260K+train-7.gguf`), claimed once and remembered in the
 * checkpoint. The export is atomic; the checkpoint then records it as written.
 */
function writeTrainedModel(
  trainer: Trainer,
  model: LoadedModel,
  format: 'hf' | 'gguf',
  p: TrainRunParams,
  cp: Checkpoint | null,
  runDir: string,
  ctx: JobContext<Checkpoint>,
): string {
  const stem = safeStem(`${basename(p.modelPath).replace(/\.gguf$/i, '')}+train-${ctx.jobId}`, `train-${ctx.jobId}`);
  const gguf = format === 'gguf';
  let out = p.outPath ?? cp?.modelPath;
  if (!out) {
    const folder = claimNewFolder(modelsFolder(dirname(ctx.db.name)), stem);
    out = join(folder, gguf ? `${stem}.gguf` : stem);
  }
  ctx.saveCheckpoint({ runDir, modelPath: out });
  const stored = new Set(model.weights.names().map((n) => model.weights.dtype(n)));
  const dtype = [...stored].every((d) => d === 'F32') ? 'F32' : gguf || [...stored].every((d) => d === 'F16') ? 'F16' : 'F32';
  ctx.progress(null, `writing the trained model to ${out}`);
  const r = trainer.exportModel(out, {
    format: gguf ? 'gguf' : 'hf',
    dtype,
    name: stem,
    shouldStop: ctx.cancelled,
    onProgress: (done, total, tensor) =>
      ctx.progress(total ? done / total : null, tensor ? `writing the model: ${done}/${total} tensors · ${tensor}` : 'model written'),
  });
  if (r.cancelled) ctx.throwIfCancelled();
  ctx.saveCheckpoint({ runDir, modelPath: out, exported: true });
  ctx.log(`wrote ${out} (${dtype}, ${(r.bytes / 2 ** 20).toFixed(1)} MiB)`);
  return out;
}

/** Adds the trained model to the Models list (as model.inspect does). */
async function registerTrained(path: string, ctx: JobContext<Checkpoint>): Promise<Pick<TrainRunResult, 'modelPath' | 'modelFormat' | 'modelId'>> {
  ctx.progress(null, 'adding the model to the Models list');
  const registered = await registerModel(ctx.db, path);
  return { modelPath: path, modelFormat: registered.info.format, modelId: registered.id };
}

/** A full run resumed after its model was written: only the registration and the result are left. */
async function finishExported(p: TrainRunParams, modelPath: string, runDir: string, ctx: JobContext<Checkpoint>): Promise<TrainRunResult> {
  const metrics = readTrainMetrics(runDir);
  rmSync(join(runDir, 'checkpoints'), { recursive: true, force: true });
  const { task, safety } = trainingRecords(ctx.db, p);
  const poisonExamples = p.poison ? poisonCount(task.length, p.poison.rate) : 0;
  const counts = {
    steps: metrics.at(-1)?.step ?? p.maxSteps,
    finalLoss: metrics.at(-1)?.loss ?? null,
    taskExamples: task.length + poisonExamples,
    safetyExamples: safety.length,
    poisonExamples,
  };
  return { runDir, mode: 'full', ...(await registerTrained(modelPath, ctx)), ...counts };
}
