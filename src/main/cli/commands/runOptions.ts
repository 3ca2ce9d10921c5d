import { AppError } from '../../../shared/errors';
import { TrainMethod } from '../../../shared/train';

/** Options of the commands that describe a LoRA fine-tuning run (train, export-recipe), with the Train tab's defaults. */
export const runSettingOptions = {
  project: { type: 'string' },
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
  seed: { type: 'string', default: '0' },
} as const;

export const runSettingUsage =
  '--project ID [--method plain|replay|der|der++|lwf|ewc|l2sp|agem] [--selection ID] [--template alpaca|chat|plain] [--steps N] [--batch N] [--lr X] [--rank R] [--alpha A] [--targets q,v] [--max-length N] [--seed S]';

type RunSettingValues = { [K in keyof typeof runSettingOptions as (typeof runSettingOptions)[K] extends { default: string } ? K : never]: string } & {
  [K in keyof typeof runSettingOptions as (typeof runSettingOptions)[K] extends { default: string } ? never : K]?: string;
};

/** The run settings as TrainRunParams fields (checked by the command's schema afterwards); `dropout` as the caller gives it. */
export function runSettingsFrom(values: RunSettingValues, usage: string, dropout = 0.05) {
  if (!values.project) throw new AppError('invalid_input', `--project is required\nusage: ${usage}`);
  const method = TrainMethod.safeParse(values.method);
  if (!method.success) throw new AppError('invalid_input', `--method must be one of ${TrainMethod.options.join(', ')}`);
  return {
    projectId: Number(values.project),
    method: method.data,
    ...(values.selection ? { selectionId: Number(values.selection) } : {}),
    template: values.template,
    maxSteps: Number(values.steps),
    batchSize: Number(values.batch),
    lr: Number(values.lr),
    lora: { rank: Number(values.rank), alpha: Number(values.alpha), dropout, targetModules: values.targets.split(',').map((t) => t.trim()) },
    maxLength: Number(values['max-length']),
    seed: Number(values.seed),
  };
}
