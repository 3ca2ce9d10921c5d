import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { expandMergeSweep, MergeRunParams, type MergeRunResult } from '../../../shared/merge';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';
import { runProjectSweep, sweepUsage } from './mergeSweep';

const usage =
  'safetune merge --config merge.yml --out DIR|FILE.gguf [--threads N] [--shard-size BYTES] [--project ID] [--workspace DIR] [--json]\n' +
  '       safetune merge --config merge.yml --out DIR --sweep PARAM=V1,V2,… [--sweep-model N] [--gguf]   # one merge per value, under DIR\n' +
  `       ${sweepUsage}   # a project's coefficient sweep: merge per α into models/, list, evaluate`;

/** mergekit-style model merging as recorded jobs: one merge, or a sweep of one parameter. */
export const mergeCommand: Command = {
  name: 'merge',
  usage,
  summary: 'Merge models from a mergekit YAML (linear, task_arithmetic, ties, dare_linear, dare_ties, slerp, magmax)',
  async run(argv, env) {
    if (argv[0] === 'sweep') return runProjectSweep(argv.slice(1), env);
    const { values } = parse(
      argv,
      {
        ...workspaceOption,
        config: { type: 'string' },
        out: { type: 'string' },
        'shard-size': { type: 'string' },
        threads: { type: 'string' },
        project: { type: 'string' },
        sweep: { type: 'string' },
        'sweep-model': { type: 'string' },
        gguf: { type: 'boolean', default: false },
      },
      usage,
      {
        config: 'The merge as mergekit YAML: merge_method, base_model, models with their parameters, parameters, dtype.',
        out: 'A new folder (Hugging Face safetensors) or a new .gguf file; never overwritten.',
        'shard-size': 'The largest safetensors shard of a folder output, in bytes (default 5 GiB).',
        threads: "Tensors merged at once on worker threads (default: the machine's cores, at most 4).",
        sweep: "Merge once per value of one numeric parameter (a global one, or with --sweep-model a model's), each into its own output under --out.",
        'sweep-model': 'With --sweep: the model (0-based index into models:) whose per-model parameter is swept.',
        gguf: 'With --sweep: write each merge as a .gguf file instead of a folder.',
      },
    );
    if (!values.config || !values.out) throw new AppError('invalid_input', `--config and --out are required\nusage: ${usage}`);
    const { readMergeYaml } = await import('../../merge/config');
    let config;
    try {
      config = readMergeYaml(resolve(values.config));
    } catch (e) {
      throw new AppError('invalid_input', (e as Error).message);
    }
    const outPath = resolve(values.out);
    const options = {
      ...(values['shard-size'] ? { maxShardBytes: Number(values['shard-size']) } : {}),
      ...(values.threads ? { threads: Number(values.threads) } : {}),
    };
    let runs: MergeRunParams[];
    if (values.sweep) {
      const m = /^([A-Za-z_0-9]+)=(.+)$/.exec(values.sweep);
      if (!m) throw new AppError('invalid_input', `--sweep takes PARAM=V1,V2,… (e.g. lambda=0,0.5,1)`);
      const nums = m[2]!.split(',').map((v) => Number(v.trim()));
      if (nums.some((v) => !Number.isFinite(v))) throw new AppError('invalid_input', `--sweep ${m[1]}: every value must be a number (got ${m[2]})`);
      try {
        runs = expandMergeSweep({
          config,
          parameter: m[1]!,
          ...(values['sweep-model'] !== undefined ? { modelIndex: Number(values['sweep-model']) } : {}),
          values: nums,
          outDir: outPath,
          format: values.gguf ? 'gguf' : 'hf',
        }).map((r) => ({ ...r, ...options }));
      } catch (e) {
        throw new AppError('invalid_input', (e as Error).message);
      }
    } else runs = [jobParams(MergeRunParams, { config, outPath, ...options })];
    return withServices(env, values.workspace, { runJobs: true }, async (s) => {
      const project = values.project ? Number(values.project) : null;
      if (project !== null) s.projects.get(project);
      const results: MergeRunResult[] = [];
      for (const params of runs) {
        const job = await runJobToEnd(s, s.jobs.enqueue('merge.run', params, project).id, env.io);
        if (job.state !== 'succeeded') return 1;
        const r = job.result as MergeRunResult;
        results.push(r);
        if (!values.json)
          env.io.out(
            `wrote ${r.outPath} (${r.format === 'hf' ? 'Hugging Face folder' : 'GGUF'}, ${r.tensors} tensors, ${(r.bytesWritten / 2 ** 20).toFixed(1)} MiB, ${r.seconds.toFixed(1)} s)`,
          );
      }
      if (values.json) env.io.out(JSON.stringify(values.sweep ? results : results[0]));
      return 0;
    });
  },
};
