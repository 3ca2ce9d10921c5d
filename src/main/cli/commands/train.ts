import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { TRAIN_METHODS, trainRunParamsFor, type TrainMethodTable, type TrainRunParams } from '../../../shared/train';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';
import { runSettingsCli } from './runOptions';

/**
 * `safetune train` for a table of training methods: its options and usage come from the table and
 * from the run settings' schemas (tests pass a table with extra rows; the app ships TRAIN_METHODS).
 */
export function trainCli(methods: TrainMethodTable = TRAIN_METHODS) {
  const run = runSettingsCli(methods, {
    ...workspaceOption,
    model: { type: 'string' },
    recompute: { type: 'boolean', default: false },
    'fp16-weights': { type: 'boolean', default: false },
  } as const);
  const usage = `safetune train --project ID --model PATH ${run.usage} [--recompute] [--fp16-weights] [--workspace DIR] [--json]\n${run.methodsText}`;
  const schema = trainRunParamsFor(methods);

  /** The job's parameters from the command line (checked by the job's schema, built from the same table). */
  function params(argv: string[]): { params: TrainRunParams; values: Record<string, unknown> } {
    const { values } = parse(argv, run.options, usage);
    if (!values.project || !values.model) throw new AppError('invalid_input', `--project and --model are required\nusage: ${usage}`);
    const p = jobParams(schema, {
      ...run.read(values, usage),
      modelPath: resolve(String(values.model)),
      recompute: values.recompute,
      frozenWeightDtype: values['fp16-weights'] ? 'float16' : 'float32',
    });
    return { params: p as TrainRunParams, values };
  }

  const command: Command = {
    name: 'train',
    usage,
    summary: 'Fine-tune with LoRA on a project’s task data, optionally preserving safety (replay, DER, EWC…)',
    async run(argv, env) {
      const { params: p, values } = params(argv);
      return withServices(env, values.workspace as string | undefined, { runJobs: true }, async (s) => {
        s.projects.get(p.projectId);
        const job = await runJobToEnd(s, s.jobs.enqueue('train.run', p, p.projectId).id, env.io);
        if (job.state !== 'succeeded') return 1;
        const r = job.result as { adapterPath: string; steps: number; finalLoss: number | null };
        env.io.out(values.json ? JSON.stringify(job.result) : `adapter: ${r.adapterPath}\nsteps: ${r.steps}, final loss ${r.finalLoss?.toFixed(4) ?? '-'}`);
        return 0;
      });
    },
  };
  return { command, params };
}

/** LoRA fine-tuning of a project's task data as a recorded, resumable job; prints the adapter path. */
export const trainCommand: Command = trainCli().command;
