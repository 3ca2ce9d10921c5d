import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { SelectionMethod, SelectRunParams } from '../../../shared/select';
import type { Services } from '../../app/services';
import { jobParams, parse, withServices, workspaceOption, type Command, type CliEnv } from '../command';
import { runJobToEnd } from '../runJob';

const usage =
  'safetune select (--project ID | --pool FILE) --method random|sss|pss|cossim|sss-b|pss-b|cossim-b ' +
  '(--budget N | --budget-fraction F) [--seed S] [--categories a,b] [--references DIR] [--cossim-task] [--workspace DIR] [--json]';

/**
 * Selects safety examples with the same jobs the app uses: from a project's safety pool, or from a
 * pool file (imported and analysed in a scratch workspace first). `--json` prints one object per
 * selected record.
 */
export const selectCommand: Command = {
  name: 'select',
  usage,
  summary: 'Select safety examples under a budget (Random, SSS, PSS, Cossim and -B variants)',
  async run(argv, env) {
    const { values } = parse(
      argv,
      {
        ...workspaceOption,
        project: { type: 'string' },
        pool: { type: 'string' },
        method: { type: 'string' },
        budget: { type: 'string' },
        'budget-fraction': { type: 'string' },
        seed: { type: 'string', default: '0' },
        categories: { type: 'string' },
        references: { type: 'string' },
        'cossim-task': { type: 'boolean', default: false },
      },
      usage,
    );
    const method = SelectionMethod.safeParse(values.method);
    if (!method.success) throw new AppError('invalid_input', `--method must be one of ${SelectionMethod.options.join(', ')}`);
    if (!!values.project === !!values.pool) throw new AppError('invalid_input', `give exactly one of --project and --pool\nusage: ${usage}`);
    const refs = values.references ? resolve(values.references) : undefined;

    const select = async (s: Services, projectId: number) => {
      const params = jobParams(SelectRunParams, {
        projectId,
        method: method.data,
        budget: values['budget-fraction'] ? { fraction: Number(values['budget-fraction']) } : { count: Number(values.budget) },
        seed: Number(values.seed),
        ...(values.categories ? { categories: values.categories.split(',').map((c) => c.trim()) } : {}),
        ...(refs ? { referenceDir: refs } : {}),
        cossimReference: values['cossim-task'] ? 'task' : 'categories',
      });
      const done = await runJobToEnd(s, s.jobs.enqueue('select.run', params, projectId).id, env.io);
      if (done.state !== 'succeeded') return 1;
      const id = (done.result as { selectionId: number }).selectionId;
      const sel = s.selections.get(id);
      const items = s.selections.items(id);
      if (values.json) {
        for (const it of items) {
          env.io.out(JSON.stringify({ text: it.prompt, response: it.response, categories: it.categories, behaviour: it.behaviour, takenFor: it.takenFor, score: it.score }));
        }
      } else {
        env.io.out(`${sel.summary.selected} selected (budget ${sel.summary.budget}, ${sel.summary.eligible} eligible of ${sel.summary.poolSize})`);
        env.io.out(`per behaviour: ${JSON.stringify(sel.summary.perBehaviour)}`);
        env.io.out(`per category:  ${JSON.stringify(Object.fromEntries(Object.entries(sel.summary.perCategory).filter(([, n]) => n > 0)))}`);
        items.forEach((it, i) => env.io.out(`${String(i + 1).padStart(4)}. [${it.behaviour ?? '—'}] ${it.prompt.slice(0, 100)}`));
      }
      return 0;
    };

    if (values.project) return withServices(env, values.workspace, { runJobs: true }, (s) => select(s, Number(values.project)));
    return fromPoolFile(env, resolve(values.pool!), refs, select);
  },
};

async function fromPoolFile(env: CliEnv, pool: string, refs: string | undefined, select: (s: Services, projectId: number) => Promise<number>) {
  const scratch = mkdtempSync(join(tmpdir(), 'safetune-select-'));
  try {
    return await withServices(env, scratch, { runJobs: true }, async (s) => {
      const projectId = s.projects.create('scratch').id;
      const imported = await runJobToEnd(s, s.jobs.enqueue('data.import', { projectId, path: pool, role: 'safety_pool' }, projectId).id, env.io);
      if (imported.state !== 'succeeded') return 1;
      const datasetId = (imported.result as { datasetId: number }).datasetId;
      const analysed = await runJobToEnd(
        s,
        s.jobs.enqueue('data.analyse', { projectId, datasetId, ...(refs ? { referenceDir: refs } : {}) }, projectId).id,
        env.io,
      );
      if (analysed.state !== 'succeeded') return 1;
      return select(s, projectId);
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
