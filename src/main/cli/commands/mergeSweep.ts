/**
 * `safetune merge sweep`: a project's coefficient sweep from the shell — the same jobs the app
 * queues (merge per α → Models list → evaluation), waited for, then one row per α.
 */
import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import type { Rate } from '../../../shared/eval';
import { MergeSweepRequest, type MergeSweep, type MergeSweepPoint } from '../../../shared/merge';
import type { z } from 'zod';
import { mergeSweepView, startMergeSweep } from '../../app/sweeps';
import type { Services } from '../../app/services';
import { jobParams, parse, table, withServices, workspaceOption, type CliEnv } from '../command';
import { suiteArgs } from './eval';

export const sweepUsage =
  'safetune merge sweep (--train-job ID | --aligned PATH --fine-tuned PATH [--adapter DIR]) --alphas A1,A2,… [--method task_arithmetic|ties|magmax] [--density D] ' +
  '[--dtype float32|float16|bfloat16] [--format gguf|hf] [--suite ID|FILE:KIND …] [--judge …] [--data DIR] [--limit N] [--max-tokens N] [--raw] [--project ID] [--name NAME] [--workspace DIR] [--json]';

const CLI_PROJECT = 'CLI sweeps';
const STOPPED = ['failed', 'cancelled', 'interrupted'];

export async function runProjectSweep(argv: string[], env: CliEnv): Promise<number> {
  const { values } = parse(
    argv,
    {
      ...workspaceOption,
      'train-job': { type: 'string' },
      aligned: { type: 'string' },
      'fine-tuned': { type: 'string' },
      adapter: { type: 'string' },
      alphas: { type: 'string' },
      method: { type: 'string' },
      density: { type: 'string' },
      dtype: { type: 'string' },
      format: { type: 'string' },
      suite: { type: 'string', multiple: true },
      judge: { type: 'string', multiple: true },
      data: { type: 'string' },
      limit: { type: 'string' },
      'max-tokens': { type: 'string', default: '64' },
      raw: { type: 'boolean', default: false },
      project: { type: 'string' },
      name: { type: 'string' },
    },
    sweepUsage,
  );
  if (!values.alphas) throw new AppError('invalid_input', `--alphas is required\nusage: ${sweepUsage}`);
  const alphas = values.alphas.split(',').map((v) => Number(v.trim()));
  if (alphas.some((a) => !Number.isFinite(a))) throw new AppError('invalid_input', `--alphas: every value must be a number (got ${values.alphas})`);
  let source: z.input<typeof MergeSweepRequest>['source'];
  if (values['train-job']) source = { trainJobId: Number(values['train-job']) };
  else if (values.aligned) {
    const aligned = resolve(values.aligned);
    source = {
      aligned: { modelPath: aligned },
      fineTuned: {
        modelPath: values['fine-tuned'] ? resolve(values['fine-tuned']) : aligned,
        ...(values.adapter ? { adapterPath: resolve(values.adapter) } : {}),
      },
    };
  } else throw new AppError('invalid_input', `give --train-job ID, or --aligned PATH with --fine-tuned PATH and/or --adapter DIR\nusage: ${sweepUsage}`);
  const dataDir = values.data ? resolve(values.data) : process.env.SAFETUNE_DATA_DIR;
  const evaluation = values.suite?.length
    ? {
        suites: suiteArgs(values.suite, dataDir),
        judges: (values.judge?.length ? values.judge : ['keyword']).map((j) => (j === 'keyword' ? 'keyword-start' : j)),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
        sampling: { maxNewTokens: Number(values['max-tokens']), temperature: 0 },
        promptFormat: values.raw ? 'raw' : 'chat',
      }
    : undefined;

  return withServices(env, values.workspace, { runJobs: true }, async (s) => {
    const projectId = values.project
      ? s.projects.get(Number(values.project)).id
      : (s.projects.list().find((p) => p.name === CLI_PROJECT) ?? s.projects.create(CLI_PROJECT)).id;
    const request = jobParams(MergeSweepRequest, {
      projectId,
      source,
      alphas,
      ...(values.name ? { name: values.name } : {}),
      ...(values.method ? { method: values.method } : {}),
      ...(values.density ? { density: Number(values.density) } : {}),
      ...(values.dtype ? { dtype: values.dtype } : {}),
      ...(values.format ? { format: values.format } : {}),
      ...(evaluation ? { eval: evaluation } : {}),
    });
    const started = startMergeSweep(s, request, null);
    env.io.err(`[sweep ${started.id}] "${started.name}" (project ${projectId}): ${started.points.length} merges into ${started.outDir}`);
    const sweep = await waitForSweep(s, started.id, env);
    if (values.json) env.io.out(JSON.stringify(sweep));
    else env.io.out(table(sweep.points.map(row), ['alpha', 'step', 'model', 'attack_success', 'over_refusal', 'task']));
    return sweep.points.every((p) => p.stage === 'done') ? 0 : 1;
  });
}

/** Waits until every point is done or stopped (a failed, cancelled or interrupted job); Ctrl-C cancels the sweep's jobs. */
async function waitForSweep(s: Services, id: number, env: CliEnv): Promise<MergeSweep> {
  let lines = '';
  const onSigint = () => {
    env.io.err(`[sweep ${id}] cancelling…`);
    for (const p of mergeSweepView(s, id).points)
      for (const job of [p.mergeJobId, p.inspectJobId, p.evalJobId])
        if (job !== null && ['queued', 'running'].includes(s.jobs.get(job).state)) s.jobs.cancel(job);
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      const sweep = mergeSweepView(s, id);
      const now = sweep.points.map((p) => `[sweep ${id}] α = ${p.alpha}: ${p.stage} ${p.state}`).join('\n');
      if (now !== lines) env.io.err(now);
      lines = now;
      if (sweep.points.every((p) => p.stage === 'done' || STOPPED.includes(p.state))) return sweep;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

const pct = (r: z.infer<typeof Rate>) => (r.rate === null ? '-' : `${(100 * r.rate).toFixed(1)}% ${r.k}/${r.n}`);

function row(p: MergeSweepPoint) {
  return {
    alpha: p.alpha,
    step: p.stage === 'done' ? 'done' : `${p.stage} ${p.state}`,
    model: p.modelPath,
    attack_success: p.summary ? pct(p.summary.attackSuccess) : '-',
    over_refusal: p.summary ? pct(p.summary.overRefusal) : '-',
    task: p.summary ? pct(p.summary.task) : '-',
  };
}
