import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { TrainMethod, TrainRunParams } from '../../../shared/train';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';

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
        project: { type: 'string' },
        model: { type: 'string' },
        method: { type: 'string', default: 'plain' },
        selection: { type: 'string' },
        template: { type: 'string', default: 'alpaca' },
        steps: { type: 'string', default: '100' },
        batch: { type: 'string', default: '4' },
        lr: { type: 'string', default: '0.0003' },
        rank: { type: 'string', default: '8' },
        alpha: { type: 'string', default: '16' },
        targets: { type: 'string', default: 'q,v' },
        'max-length': { type: 'string', default: '256' },
        recompute: { type: 'boolean', default: false },
        'fp16-weights': { type: 'boolean', default: false },
        seed: { type: 'string', default: '0' },
      },
      usage,
    );
    if (!values.project || !values.model) throw new AppError('invalid_input', `--project and --model are required\nusage: ${usage}`);
    const method = TrainMethod.safeParse(values.method);
    if (!method.success) throw new AppError('invalid_input', `--method must be one of ${TrainMethod.options.join(', ')}`);
    const params = jobParams(TrainRunParams, {
      projectId: Number(values.project),
      modelPath: resolve(values.model),
      method: method.data,
      ...(values.selection ? { selectionId: Number(values.selection) } : {}),
      template: values.template,
      maxSteps: Number(values.steps),
      batchSize: Number(values.batch),
      lr: Number(values.lr),
      lora: { rank: Number(values.rank), alpha: Number(values.alpha), dropout: 0.05, targetModules: values.targets.split(',').map((t) => t.trim()) },
      maxLength: Number(values['max-length']),
      recompute: values.recompute,
      frozenWeightDtype: values['fp16-weights'] ? 'float16' : 'float32',
      seed: Number(values.seed),
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
