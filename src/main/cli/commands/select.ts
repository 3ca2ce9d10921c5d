import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { SELECTION_METHODS, selectRunParamsFor, type SelectionMethodRow, type SelectionMethodTable, type SelectRunParams } from '../../../shared/select';
import type { Services } from '../../app/services';
import { getHarmTaxonomy } from '../../data/taxonomy';
import { parseCategoryOptions } from '../categories';
import { jobParams, parse, withServices, workspaceOption, type Command, type CliEnv } from '../command';
import { methodChoices, methodOptionDocs, methodParamsFromArgs, methodsUsage, withMethodOptions } from '../methodOptions';
import { runJobToEnd } from '../runJob';

/** What a method needs, as the options that provide it. */
function needsNote(row: SelectionMethodRow): string {
  const notes: string[] = [];
  if (row.t1Only) notes.push('T1 only: needs behaviour types (an analysed pool)');
  if (row.usesEmbeddings) notes.push('embeddings: --embedder DIR or the built-in word vectors');
  if (row.usesReference) notes.push('reference: --references DIR, the shipped centroids, or --cossim-task');
  return notes.join('; ');
}

/**
 * `safetune select` for a table of selection methods: its options and usage come from the table
 * (tests pass a table with extra rows; the app ships SELECTION_METHODS). Selects from a project's
 * safety pool (the selection is saved under a name and its id printed, for `train --selection`) or
 * from a pool file (imported and analysed in a scratch workspace first). `--json` prints one object
 * per selected record.
 */
export function selectCli(methods: SelectionMethodTable = SELECTION_METHODS) {
  const usage =
    `safetune select (--project ID [--name NAME] | --pool FILE) --method ${methodChoices(methods)} ` +
    '(--budget N | --budget-fraction F) [--seed S] [--category ID_OR_NAME …] [--categories "a;b"] [--references DIR] [--cossim-task] [--embedder DIR] [--workspace DIR] [--json]\n' +
    `    methods (and what they need):\n${methodsUsage(methods, (id) => needsNote(methods[id]!)).replace(/^/gm, '    ')}`;
  const options = withMethodOptions(
    {
      ...workspaceOption,
      project: { type: 'string' },
      name: { type: 'string' },
      pool: { type: 'string' },
      method: { type: 'string' },
      budget: { type: 'string' },
      'budget-fraction': { type: 'string' },
      seed: { type: 'string', default: '0' },
      category: { type: 'string', multiple: true },
      categories: { type: 'string' },
      references: { type: 'string' },
      'cossim-task': { type: 'boolean', default: false },
      embedder: { type: 'string' },
    } as const,
    methods,
    'selection method',
  );
  const schema = selectRunParamsFor(methods);

  /** The parsed options, and the job's parameters for a project (checked by the job's schema, built from the same table). */
  function read(argv: string[]) {
    const { values } = parse(argv, options, usage, {
      ...methodOptionDocs(methods),
      name: 'A name for the saved selection (default: from the method and budget).',
      pool: 'Select from this file instead of a project (prints the selection; saves nothing).',
      method: 'The selection method (see "methods" below).',
      budget: 'How many safety examples to select.',
      'budget-fraction': 'The budget as a share of the project’s task data (e.g. 0.01 for 1%).',
      category: 'Spread the budget over these harm categories only (ids or names); repeatable.',
      categories: 'The same as a semicolon-separated list.',
      references: 'A folder of reference prompts per harm category (BeaverTails layout).',
      'cossim-task': 'Cossim: rank by similarity to the task data instead of the harm categories.',
      embedder: 'A sentence-transformers ONNX folder for the embeddings (default: the built-in static word vectors).',
    });
    const method = values.method as string | undefined;
    if (!method || !methods[method]) throw new AppError('invalid_input', `--method must be one of ${Object.keys(methods).join(', ')}`);
    if (!!values.project === !!values.pool) throw new AppError('invalid_input', `give exactly one of --project and --pool\nusage: ${usage}`);
    const categories = parseCategoryOptions(getHarmTaxonomy(), values.category as string[] | undefined, values.categories as string | undefined);
    const refs = values.references ? resolve(String(values.references)) : undefined;
    const methodParams = methodParamsFromArgs(methods, method, values);
    const params = (projectId: number): SelectRunParams =>
      jobParams(schema, {
        projectId,
        method,
        budget: values['budget-fraction'] ? { fraction: Number(values['budget-fraction']) } : { count: Number(values.budget) },
        seed: Number(values.seed),
        ...(categories ? { categories } : {}),
        ...(refs ? { referenceDir: refs } : {}),
        ...(values.embedder ? { embedderPath: resolve(String(values.embedder)) } : {}),
        cossimReference: values['cossim-task'] ? 'task' : 'categories',
        methodParams,
      }) as SelectRunParams;
    return { values, refs, params };
  }

  const command: Command = {
    name: 'select',
    usage,
    summary: 'Select safety examples under a budget (Random, SSS, PSS, Cossim and -B variants)',
    async run(argv, env) {
      const { values, refs, params } = read(argv);
      const select = async (s: Services, projectId: number, save: boolean) => {
        const p = params(projectId);
        const done = await runJobToEnd(s, s.jobs.enqueue('select.run', p, projectId).id, env.io);
        if (done.state !== 'succeeded') return 1;
        const id = (done.result as { selectionId: number }).selectionId;
        let sel = s.selections.get(id);
        const items = s.selections.items(id);
        if (save) {
          sel = s.selections.save(id, (values.name as string | undefined) ?? `${methods[p.method]!.label} ${sel.summary.selected} seed ${p.seed}`);
          const line = `saved selection ${sel.id} "${sel.name}" (train on it: safetune train --project ${projectId} --selection ${sel.id} …)`;
          // with --json, stdout holds only the records
          if (values.json) env.io.err(line);
          else env.io.out(line);
        }
        if (values.json) {
          for (const it of items) {
            env.io.out(
              JSON.stringify({
                text: it.prompt,
                response: it.response,
                categories: it.categories,
                behaviour: it.behaviour,
                takenFor: it.takenFor,
                score: it.score,
              }),
            );
          }
        } else {
          env.io.out(`${sel.summary.selected} selected (budget ${sel.summary.budget}, ${sel.summary.eligible} eligible of ${sel.summary.poolSize})`);
          env.io.out(`per behaviour: ${JSON.stringify(sel.summary.perBehaviour)}`);
          env.io.out(`per category:  ${JSON.stringify(Object.fromEntries(Object.entries(sel.summary.perCategory).filter(([, n]) => n > 0)))}`);
          items.forEach((it, i) => env.io.out(`${String(i + 1).padStart(4)}. [${it.behaviour ?? '—'}] ${it.prompt.slice(0, 100)}`));
        }
        return 0;
      };

      if (values.project) return withServices(env, values.workspace as string | undefined, { runJobs: true }, (s) => select(s, Number(values.project), true));
      return fromPoolFile(env, resolve(String(values.pool)), refs, (s, projectId) => select(s, projectId, false));
    },
  };
  return { command, read };
}

/** Selects safety examples with the same jobs the app uses. */
export const selectCommand: Command = selectCli().command;

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
