import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { paramFields } from '../../../shared/methods/table';
import {
  FullSettings,
  LoraSettings,
  PoisonSettings,
  TRAIN_METHODS,
  TRAIN_MODES,
  TrainableGroup,
  trainRunParamsFor,
  type TrainMethodTable,
  type TrainRunParams,
} from '../../../shared/train';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { settingsDocs, settingsFromArgs, settingsOptions, settingsUsage } from '../methodOptions';
import { runJobToEnd } from '../runJob';
import { runSettingsCli } from './runOptions';

/** `--poison-rate X --poison-file FILE`: poisoned pairs mixed into the task data (both needed; the job's schema says what is missing). */
function poisonFromArgs(values: Record<string, unknown>): { poison?: Record<string, unknown> } {
  const given = settingsFromArgs(PoisonSettings, values);
  if (Object.keys(given).length === 0) return {};
  return { poison: { ...given, ...(typeof given.file === 'string' ? { file: resolve(given.file) } : {}) } };
}

/** The options a mode's settings were given with on the command line ("--rank, --alpha"). */
const givenOptions = (schema: typeof LoraSettings | typeof FullSettings, values: Record<string, unknown>) =>
  paramFields(schema)
    .filter((f) => values[f.cli] !== undefined)
    .map((f) => `--${f.cli}`);

/**
 * `safetune train` for a table of training methods: its options and usage come from the table and
 * from the run settings' schemas, shared with `export-recipe` (runOptions.ts; tests pass a table
 * with extra rows; the app ships TRAIN_METHODS). LoRA by default; `--full` trains the model's own
 * weights (`--trainable` groups) and writes the whole model to a new folder in the workspace's
 * models/ (or `--out`), added to the Models list.
 */
export function trainCli(methods: TrainMethodTable = TRAIN_METHODS) {
  const run = runSettingsCli(methods, {
    ...workspaceOption,
    model: { type: 'string' },
    full: { type: 'boolean', default: false },
    ...settingsOptions(FullSettings),
    ...settingsOptions(PoisonSettings),
    out: { type: 'string' },
    recompute: { type: 'boolean', default: false },
    'fp16-weights': { type: 'boolean', default: false },
  } as const);
  const usage =
    `safetune train --project ID --model PATH ${run.commonUsage} [LoRA: ${run.loraUsage} | --full ${settingsUsage(FullSettings)} [--out PATH]] [--recompute] [--fp16-weights] [poisoned user data: ${settingsUsage(PoisonSettings)}] [--workspace DIR] [--json]\n` +
    `    modes: LoRA (default): ${TRAIN_MODES.lora.description}; --full: ${TRAIN_MODES.full.description}\n` +
    `    --trainable groups: ${TrainableGroup.options.join(', ')}\n` +
    run.methodsText;
  const schema = trainRunParamsFor(methods);

  /** The job's parameters from the command line (checked by the job's schema, built from the same table). */
  function params(argv: string[]): { params: TrainRunParams; values: Record<string, unknown> } {
    const { values } = parse(argv, run.options, usage, {
      ...run.docs,
      ...settingsDocs(FullSettings),
      ...settingsDocs(PoisonSettings),
      full: "Full-parameter training: train the model's own weights (or the --trainable groups) and write a new model, instead of a LoRA adapter.",
      out: 'With --full: where the trained model is written (a new folder, or a new .gguf for a GGUF base; default: a new folder in the workspace’s models/).',
      recompute: 'Recompute activations in the backward pass (less memory, about a quarter more compute).',
      'fp16-weights': 'Keep the frozen weights in fp16 (half their memory; trains on fp16-rounded weights; turns on --recompute).',
    });
    if (!values.project || !values.model) throw new AppError('invalid_input', `--project and --model are required\nusage: ${usage}`);
    const full = values.full === true;
    const misplaced = full ? givenOptions(LoraSettings, values) : [...givenOptions(FullSettings, values), ...(values.out !== undefined ? ['--out'] : [])];
    if (misplaced.length) {
      throw new AppError(
        'invalid_input',
        full
          ? `${misplaced.join(', ')}: LoRA settings, not used with --full (leave them out)`
          : `${misplaced.join(', ')}: full-parameter settings: add --full, or leave them out for LoRA`,
      );
    }
    const { lora, ...settings } = run.read(values, usage);
    const p = jobParams(schema, {
      ...settings,
      modelPath: resolve(String(values.model)),
      mode: full ? 'full' : 'lora',
      ...(full ? { full: settingsFromArgs(FullSettings, values), ...(values.out !== undefined ? { outPath: resolve(String(values.out)) } : {}) } : { lora }),
      ...poisonFromArgs(values),
      recompute: values.recompute,
      frozenWeightDtype: values['fp16-weights'] ? 'float16' : 'float32',
    });
    return { params: p as TrainRunParams, values };
  }

  const command: Command = {
    name: 'train',
    usage,
    summary: 'Fine-tune (LoRA, or --full parameters) on a project’s task data, optionally preserving safety (replay, DER, EWC…)',
    async run(argv, env) {
      const { params: p, values } = params(argv);
      return withServices(env, values.workspace as string | undefined, { runJobs: true }, async (s) => {
        s.projects.get(p.projectId);
        const job = await runJobToEnd(s, s.jobs.enqueue('train.run', p, p.projectId).id, env.io);
        if (job.state !== 'succeeded') return 1;
        const r = job.result as { adapterPath?: string; modelPath?: string; steps: number; finalLoss: number | null };
        const written = r.modelPath ? `model: ${r.modelPath} (added to the Models list)` : `adapter: ${r.adapterPath}`;
        env.io.out(values.json ? JSON.stringify(job.result) : `${written}\nsteps: ${r.steps}, final loss ${r.finalLoss?.toFixed(4) ?? '-'}`);
        return 0;
      });
    },
  };
  return { command, params };
}

/** Fine-tuning of a project's task data as a recorded, resumable job; prints the adapter (LoRA) or model (--full) path. */
export const trainCommand: Command = trainCli().command;
