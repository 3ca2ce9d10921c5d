import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { runBlockedReason, trainMethodRow, TrainRunParams, truncationAt, type TrainMetric } from '../../../shared/train';
import type { LoadedModel } from '../../engine';
import { defineJob, ENGINE_JOB_HEAP_MB, ENGINE_YOUNG_GENERATION_MB, type JobContext } from '../define';
import { engineCacheDir } from '../workspaceResources';
import { lengthProfile, trainingRecords, trainingText, type PromptResponse } from './trainExamples';

interface Checkpoint {
  runDir: string;
}

export interface TrainRunResult {
  runDir: string;
  adapterPath: string;
  steps: number;
  finalLoss: number | null;
  taskExamples: number;
  safetyExamples: number;
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
async function checkSomethingToLearn(p: TrainRunParams, model: LoadedModel, task: PromptResponse[], safety: PromptResponse[], ctx: JobContext<Checkpoint>): Promise<void> {
  ctx.progress(null, 'counting response tokens that survive truncation');
  const profiles = {
    task: await lengthProfile(model, p.template, task, ctx.throwIfCancelled),
    safety: safety.length ? await lengthProfile(model, p.template, safety, ctx.throwIfCancelled) : null,
  };
  const blocked = runBlockedReason({ ...profiles, contextLength: model.config.maxPositions }, { id: p.method, row: trainMethodRow(p.method) }, p.maxLength);
  if (blocked) throw new Error(blocked);
  for (const [what, prof] of [['task', profiles.task], ['safety', profiles.safety]] as const) {
    if (!prof) continue;
    const t = truncationAt(prof, p.maxLength);
    ctx.log(`${what} examples at max tokens ${p.maxLength}: ${t.keepAll} keep their whole response, ${t.losePart} lose part of it, ${t.loseAll} lose all of it`);
    if (t.loseAll > 0.25 * t.examples) ctx.log(`warning: ${t.loseAll} of ${t.examples} ${what} examples (${Math.round((100 * t.loseAll) / t.examples)}%) have no response token left at max tokens ${p.maxLength}`);
  }
}

/**
 * LoRA fine-tuning on the project's task data, optionally with a continual-learning term that
 * preserves safety (replay of a saved selection, DER/DER++, LwF, EWC, L2-SP, A-GEM). Checkpoints
 * (adapter + optimiser + data cursor + RNG) are written atomically every `checkpointEvery` steps
 * and on cancel; a resumed job continues exactly from the newest one. Ends with a PEFT adapter.
 */
export const trainRunJob = defineJob<TrainRunParams, Checkpoint, TrainRunResult>({
  type: 'train.run',
  heavy: true,
  youngGenerationMb: ENGINE_YOUNG_GENERATION_MB,
  heapMb: ENGINE_JOB_HEAP_MB,
  params: TrainRunParams,
  title: (p) => `Fine-tune ${basename(p.modelPath)} (${p.method}, ${p.maxSteps} steps)`,
  run: (p, ctx) => train(p, ctx),
  resume: (p, _cp, ctx) => train(p, ctx),
});

async function train(p: TrainRunParams, ctx: JobContext<Checkpoint>): Promise<TrainRunResult> {
  const runDir = trainRunDir(dirname(ctx.db.name), ctx.jobId);
  const checkpointDir = join(runDir, 'checkpoints');
  const weightCacheDir = join(runDir, 'weights');
  mkdirSync(checkpointDir, { recursive: true });
  ctx.saveCheckpoint({ runDir });
  const engine = await import('../../engine');
  const T = await import('../../engine/train');

  ctx.progress(null, 'loading the model and data');
  const model = engine.loadModel(p.modelPath);
  const { task, safety } = trainingRecords(ctx.db, p);
  if (task.length === 0) throw new Error('no task examples with a response to train on: import task data first');
  if (trainMethodRow(p.method).safety && safety.length === 0) throw new Error(`${p.method} needs safety examples: choose a saved selection`);
  await checkSomethingToLearn(p, model, task, safety, ctx);

  const { render, addBos } = await trainingText(model, p.template);
  const tokenize = (r: { prompt: string; response: string }) => T.tokenizeExample(model.tokenizer, render(r), { maxLength: p.maxLength, addBos });
  const taskEx = task.map(tokenize);
  const { prepareMethod } = await import('../../train-methods');
  const setup = await prepareMethod(
    p.method,
    p.methodParams,
    {
      model,
      task: taskEx,
      safety: safety.map(tokenize),
      run: { seed: p.seed, maxLength: p.maxLength, lora: p.lora },
      withAlignedModel: async (fn) => {
        const aligned = await engine.openModel(model, { cacheDir: engineCacheDir(ctx.db) });
        try {
          return await fn(aligned);
        } finally {
          await aligned.release();
        }
      },
      progress: (message) => ctx.progress(null, message),
    },
  );

  const options = {
    lora: p.lora,
    lr: p.lr,
    weightDecay: 0,
    schedule: { type: 'cosine' as const, warmupSteps: p.warmupSteps },
    maxSteps: p.maxSteps,
    batchSize: p.batchSize,
    gradAccumSteps: p.gradAccumSteps,
    maxLength: p.maxLength,
    recompute: p.recompute,
    frozenWeightDtype: p.frozenWeightDtype,
    seed: p.seed,
    checkpointDir,
    checkpointEvery: p.checkpointEvery,
    // frozen weights streamed to a file onnxruntime memory-maps: one copy in memory, not two
    weightCacheDir,
    terms: setup.terms,
    ...(setup.distill ? { distill: setup.distill } : {}),
  };
  const resumeFrom = T.latestCheckpoint(checkpointDir);
  ctx.progress(null, 'building the training graph');
  let trainer: import('../../engine/train').Trainer | undefined;
  try {
    const examples = setup.task ?? taskEx;
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
          `so no adapter is written; raise max tokens per example (${p.maxLength}) so that responses survive truncation`,
      );
    }
    const adapterPath = join(runDir, 'adapter');
    trainer.exportAdapter(adapterPath);
    return { runDir, adapterPath, steps: res.steps, finalLoss: last, taskExamples: task.length, safetyExamples: safety.length };
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
