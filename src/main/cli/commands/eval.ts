import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { JUDGE_ALIASES, JUDGES, evalRunParamsFor, type JudgeRow, type JudgeTable, type SuiteMetrics, type SuiteSpec } from '../../../shared/eval';
import { runWithMetrics } from '../../app/evaluations';
import { judgeIdsText } from '../../eval/judges';
import { jobParams, parse, table, withServices, workspaceOption, type Command } from '../command';
import { methodOptionDocs, methodsUsage, paramsOfSeveral, withMethodOptions } from '../methodOptions';
import { runJobToEnd } from '../runJob';

const CLI_PROJECT = 'CLI evaluations';

function needsNote(row: JudgeRow): string {
  return [
    row.kind === 'refusal' ? '' : `${row.kind} judge`,
    row.guardModel ? 'needs --guard-model PATH' : '',
    row.automaticFor ? `added for ${row.automaticFor} suites` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/**
 * `safetune eval` for a table of judges: `--judge` ids, their options and the usage come from the
 * table (tests pass one with extra rows; the app ships JUDGES). Runs an evaluation as a recorded
 * job and prints its metrics (the same numbers the app shows).
 */
export function evalCli(judges: JudgeTable = JUDGES) {
  const usage =
    'safetune eval (--model PATH [--adapter DIR] | --http URL --http-model NAME [--concurrency N]) --suite ID|FILE:KIND [--suite …] ' +
    `[--judge ID …] [--guard-model PATH] [--data DIR] [--references DIR] [--limit N] [--max-tokens N] [--raw] [--project ID] [--workspace DIR] [--json]\n` +
    `    judges (--judge, repeatable; default keyword-start):\n${methodsUsage(judges, (id) => needsNote(judges[id]!)).replace(/^/gm, '    ')}`;
  const options = withMethodOptions(
    {
      ...workspaceOption,
      model: { type: 'string' },
      adapter: { type: 'string' },
      http: { type: 'string' },
      'http-model': { type: 'string' },
      concurrency: { type: 'string' },
      suite: { type: 'string', multiple: true },
      judge: { type: 'string', multiple: true },
      data: { type: 'string' },
      references: { type: 'string' },
      limit: { type: 'string' },
      'max-tokens': { type: 'string', default: '64' },
      raw: { type: 'boolean', default: false },
      project: { type: 'string' },
      name: { type: 'string' },
      'guard-model': { type: 'string' },
    } as const,
    judges,
    'judge',
  );
  const schema = evalRunParamsFor(judges);

  /** The judges asked for (ids or aliases), checked against the table, and their parameters from the command line. */
  function judgesFromArgs(values: Record<string, unknown>): { ids: string[]; judgeParams: Record<string, Record<string, unknown>> } {
    const asked = (values.judge as string[] | undefined)?.length ? (values.judge as string[]) : ['keyword-start'];
    const ids = asked.map((j) => {
      const id = JUDGE_ALIASES[j] ?? j;
      if (!judges[id]) throw new AppError('invalid_input', `--judge ${j}: unknown judge (have: ${judgeIdsText(judges)})`);
      if (judges[id]!.guardModel && !values['guard-model'])
        throw new AppError('invalid_input', `--judge ${id} needs --guard-model PATH (a Llama Guard 3 model)`);
      return id;
    });
    const judgeParams = paramsOfSeveral(judges, ids, values);
    return { ids, judgeParams };
  }

  const command: Command = {
    name: 'eval',
    usage,
    summary: 'Evaluate a model on safety, over-refusal and task suites',
    async run(argv, env) {
      const { values } = parse(argv, options, usage, {
        ...methodOptionDocs(judges),
        http: 'An OpenAI-compatible server to evaluate instead of a local model (vLLM, TGI, llama.cpp server…).',
        'http-model': 'The model name the server serves.',
        concurrency: 'Requests in flight at once to the server.',
        suite: 'A built-in suite id (read from --data), or FILE:KIND for your own file (KIND: harmful, over-refusal or task); repeatable.',
        judge: 'A judge by id (see "judges" below); repeatable.',
        data: 'The folder holding the built-in suites’ files (e.g. ../shared/data).',
        references: 'A folder of reference prompts per harm category, to categorise suites without labels.',
        limit: 'Evaluate only the first N prompts of each suite.',
        raw: 'Send prompts as plain text, without the chat template.',
        name: 'A name for the evaluation in the project.',
        'guard-model': 'A Llama Guard 3 model (GGUF or Hugging Face folder) for the llama-guard judges.',
      });
      if (!values.suite?.length) throw new AppError('invalid_input', `give at least one --suite\nusage: ${usage}`);
      const dataDir = values.data ? resolve(values.data) : process.env.SAFETUNE_DATA_DIR;
      const suites = suiteArgs(values.suite, dataDir);
      if (values.concurrency !== undefined && !values.http)
        throw new AppError('invalid_input', `--concurrency applies to --http servers only\nusage: ${usage}`);
      const model = values.http
        ? {
            kind: 'http' as const,
            baseUrl: values.http,
            model: values['http-model'] ?? '',
            ...(values.concurrency !== undefined ? { concurrency: Number(values.concurrency) } : {}),
          }
        : { kind: 'engine' as const, path: resolve(values.model ?? ''), ...(values.adapter ? { adapterPath: resolve(values.adapter) } : {}) };
      if (model.kind === 'engine' && !values.model) throw new AppError('invalid_input', `give --model PATH or --http URL\nusage: ${usage}`);
      const chosen = judgesFromArgs(values);

      return withServices(env, values.workspace, { runJobs: true }, async (s) => {
        const projectId = values.project
          ? s.projects.get(Number(values.project)).id
          : (s.projects.list().find((p) => p.name === CLI_PROJECT) ?? s.projects.create(CLI_PROJECT)).id;
        const params = jobParams(schema, {
          projectId,
          ...(values.name ? { name: values.name } : {}),
          model,
          suites,
          ...(values.limit ? { limit: Number(values.limit) } : {}),
          judges: chosen.ids,
          ...(Object.keys(chosen.judgeParams).length ? { judgeParams: chosen.judgeParams } : {}),
          ...(values.references ? { referenceDir: resolve(values.references) } : {}),
          ...(values['guard-model'] ? { guardModel: { kind: 'engine', path: resolve(values['guard-model']) } } : {}),
          sampling: { maxNewTokens: Number(values['max-tokens']), temperature: 0 },
          promptFormat: values.raw ? 'raw' : 'chat',
        });
        const job = await runJobToEnd(s, s.jobs.enqueue('eval.run', params, projectId).id, env.io);
        if (job.state !== 'succeeded') return 1;
        const run = runWithMetrics(s, (job.result as { runId: number }).runId);
        if (values.json) env.io.out(JSON.stringify(run));
        else {
          env.io.out(`run ${run.id} "${run.name}" (project ${projectId}): ${run.results} examples, ${run.generator}`);
          env.io.out(table(run.metrics.map(metricRow), ['suite', 'judge', 'n', 'refusal', 'attack_success', 'over_refusal', 'task']));
        }
        return 0;
      });
    },
  };
  return { command, judgesFromArgs, usage };
}

/** Runs an evaluation as a recorded job and prints its metrics (the same numbers the app shows). */
export const evalCommand: Command = evalCli().command;

function fmt(r: SuiteMetrics['refusal']): string {
  if (!r || r.rate === null) return '-';
  return `${(100 * r.rate).toFixed(1)}% [${(100 * r.low!).toFixed(1)}-${(100 * r.high!).toFixed(1)}] ${r.k}/${r.n}`;
}

function metricRow(m: SuiteMetrics) {
  return {
    suite: m.suiteId,
    judge: m.judgeId,
    n: m.records,
    refusal: fmt(m.refusal),
    attack_success: fmt(m.attackSuccess),
    over_refusal: fmt(m.overRefusal),
    task: fmt(m.task),
  };
}

/** `--suite` values: a built-in suite id (needs the data folder) or FILE:KIND. */
export function suiteArgs(values: readonly string[], dataDir: string | undefined): SuiteSpec[] {
  return values.map((s) => {
    const m = /^(.*):(harmful|over-refusal|task)$/.exec(s);
    if (m) return { file: resolve(m[1]!), kind: m[2] as 'harmful' | 'over-refusal' | 'task' };
    if (existsSync(s)) throw new AppError('invalid_input', `--suite ${s}: a file needs its kind, e.g. ${s}:harmful`);
    if (!dataDir)
      throw new AppError('invalid_input', `built-in suite "${s}" needs --data DIR (a folder laid out like the workbench's data folder) or SAFETUNE_DATA_DIR`);
    return { builtin: s, dataDir };
  });
}
