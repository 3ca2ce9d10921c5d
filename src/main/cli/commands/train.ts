import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { TrainRunParams } from '../../../shared/train';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';
import { runSettingOptions, runSettingsFrom } from './runOptions';

const usage =
  'safetune train --project ID --model PATH [--method plain|replay|der|der++|lwf|ewc|l2sp|agem] [--selection ID] ' +
  '[--template alpaca|chat|plain] [--steps N] [--batch N] [--lr X] [--rank R] [--alpha A] [--targets q,v] [--max-length N] [--recompute] [--fp16-weights] [--seed S] [--workspace DIR] [--json]';

/** LoRA fine-tuning of a project's task data as a recorded, resumable job; prints the adapter path. */
export const trainCommand: Command = {
  name: 'train',
  usage,
  summary: 'Fine-tune with LoRA on a project’s task data, optionally preserving safety (replay, DER, EWC…)',
  async run(argv, env) {
    const { values } = parse(
      argv,
      {
        ...workspaceOption,
        ...runSettingOptions,
        model: { type: 'string' },
        recompute: { type: 'boolean', default: false },
        'fp16-weights': { type: 'boolean', default: false },
      },
      usage,
    );
    if (!values.project || !values.model) throw new AppError('invalid_input', `--project and --model are required\nusage: ${usage}`);
    const params = jobParams(TrainRunParams, {
      ...runSettingsFrom(values, usage),
      modelPath: resolve(values.model),
      recompute: values.recompute,
      frozenWeightDtype: values['fp16-weights'] ? 'float16' : 'float32',
    });
    return withServices(env, values.workspace, { runJobs: true }, async (s) => {
      s.projects.get(params.projectId);
      const job = await runJobToEnd(s, s.jobs.enqueue('train.run', params, params.projectId).id, env.io);
      if (job.state !== 'succeeded') return 1;
      const r = job.result as { adapterPath: string; steps: number; finalLoss: number | null };
      env.io.out(values.json ? JSON.stringify(job.result) : `adapter: ${r.adapterPath}\nsteps: ${r.steps}, final loss ${r.finalLoss?.toFixed(4) ?? '-'}`);
      return 0;
    });
  },
};
