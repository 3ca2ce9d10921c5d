import { resolve } from 'node:path';
import { DatasetRole, type DataScreenResult } from '../../../shared/data';
import { AppError } from '../../../shared/errors';
import { parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';

const usage =
  'safetune data import FILE --project ID --role task|safety_pool|harmful_eval|benign_eval [--name NAME] [--behaviour-field FIELD] | ' +
  'data analyse --project ID --dataset ID [--references DIR] [--embedder DIR] [--type yes|no] [--prompts-harmful yes|no] [--categories yes|no] | ' +
  'data screen --project ID --dataset ID [--typicality yes|no] [--drop]   [--workspace DIR] [--json]\n' +
  '  (screen lists rows that look poisoned — harmful requests answered compliantly, unlike the rest of the data — and with --drop removes them)\n' +
  "  (analyse options left out follow the data set's role: a safety pool is typed with every prompt harmful, task data is only embedded)";

/** Imports and analyses data sets as recorded jobs, in this process. */
export const dataCommand: Command = {
  name: 'data',
  usage,
  summary: 'Import a file into a project, or analyse a data set (behaviour types, categories)',
  async run(argv, env) {
    const { values, positionals } = parse(
      argv,
      {
        ...workspaceOption,
        project: { type: 'string' },
        role: { type: 'string' },
        name: { type: 'string' },
        'behaviour-field': { type: 'string' },
        dataset: { type: 'string' },
        references: { type: 'string' },
        embedder: { type: 'string' },
        type: { type: 'string' },
        'prompts-harmful': { type: 'string' },
        categories: { type: 'string' },
        typicality: { type: 'string' },
        drop: { type: 'boolean', default: false },
      },
      usage,
      {
        role: 'import: what the data is for (task data, a safety pool to select from, harmful or benign evaluation prompts).',
        name: "import: the data set's name (default: the file name).",
        'behaviour-field':
          "import: a column or key holding each record's behaviour type (T1–T4) as recorded in the file: taken as the record's type (shown as from the file; Analyse keeps it).",
        dataset: 'analyse, screen: the data set, by id.',
        references: 'analyse: reference prompts, one file per harm category (BeaverTails layout), for inferring harm categories.',
        embedder:
          'analyse: a sentence-transformers ONNX folder that embeds the prompts (categories, the map, selection); default: the built-in word vectors. Behaviour typing always uses the word vectors its detectors were trained on.',
        type: "analyse: type each pair T1–T4 by behaviour (default: as the data set's role calls for).",
        'prompts-harmful': 'analyse: count every prompt as harmful, so only the reply decides T1 vs T2.',
        categories: 'analyse: infer the harm categories of unlabelled records (needs --references).',
        typicality: 'screen: flag a row only when it is also unlike the rest of the data set (default yes).',
        drop: 'screen: remove the flagged rows from the data set.',
      },
    );
    const [sub, file] = positionals;
    const projectId = Number(values.project);
    if (!Number.isInteger(projectId) || projectId < 1) throw new AppError('invalid_input', `--project ID is required\nusage: ${usage}`);
    let type: string;
    let params: Record<string, unknown>;
    if (sub === 'import') {
      if (!file) throw new AppError('invalid_input', `expected FILE\nusage: ${usage}`);
      const role = DatasetRole.safeParse(values.role);
      if (!role.success) throw new AppError('invalid_input', `--role must be one of ${DatasetRole.options.join(', ')}`);
      type = 'data.import';
      params = {
        projectId,
        path: resolve(file),
        role: role.data,
        ...(values.name ? { name: values.name } : {}),
        ...(values['behaviour-field'] ? { behaviourField: values['behaviour-field'] } : {}),
      };
    } else if (sub === 'analyse') {
      type = 'data.analyse';
      params = {
        projectId,
        datasetId: Number(values.dataset),
        ...(values.references ? { referenceDir: resolve(values.references) } : {}),
        ...(values.embedder ? { embedderPath: resolve(values.embedder) } : {}),
        ...yesNo('typeBehaviour', '--type', values.type),
        ...yesNo('promptsHarmful', '--prompts-harmful', values['prompts-harmful']),
        ...yesNo('inferCategories', '--categories', values.categories),
      };
    } else if (sub === 'screen') {
      type = 'data.screen';
      params = { projectId, datasetId: Number(values.dataset), ...yesNo('typicality', '--typicality', values.typicality) };
    } else {
      throw new AppError('invalid_input', `unknown subcommand "${sub ?? ''}"\nusage: ${usage}`);
    }
    return withServices(env, values.workspace, { runJobs: true }, async (s) => {
      s.projects.get(projectId);
      const job = s.jobs.enqueue(type, params, projectId);
      const done = await runJobToEnd(s, job.id, env.io);
      if (done.state !== 'succeeded') return 1;
      if (type === 'data.screen') {
        const r = done.result as DataScreenResult;
        const dropped =
          values.drop && r.flagged.length
            ? s.datasets.dropRecords(
                r.datasetId,
                r.flagged.map((f) => f.recordId),
              )
            : null;
        env.io.out(values.json ? JSON.stringify({ ...r, ...(dropped ? { dropped: dropped.dropped } : {}) }) : screenText(r, dropped?.dropped ?? null));
        return 0;
      }
      env.io.out(values.json ? JSON.stringify(done.result) : summarise(done.result));
      if (type === 'data.import' && !values.json) {
        const r = done.result as { datasetId: number };
        for (const rej of s.datasets.rejections(r.datasetId, 0, 20).rows) env.io.err(`rejected ${rej.message}`);
      }
      return 0;
    });
  },
};

/** The flagged rows, most suspicious first, as a reader scans them. */
function screenText(r: DataScreenResult, dropped: number | null): string {
  const lines = r.flagged.map((f) => `${f.score.toFixed(3)}  record ${f.recordId}  ${oneLine(f.prompt, 70)}  →  ${oneLine(f.response, 40)}`);
  const tail = dropped !== null ? `dropped ${dropped} rows` : r.flagged.length ? 'run again with --drop to remove them' : '';
  return [`${r.flagged.length} of ${r.total} rows look poisoned (score = P(harmful) × P(complies) × atypicality)`, ...lines, tail].filter(Boolean).join('\n');
}

const oneLine = (t: string, n: number) => {
  const s = t.replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
};

/** An optional yes/no flag as a job option (absent: the role's default). */
function yesNo(key: string, flag: string, v: string | undefined): Record<string, boolean> {
  if (v === undefined) return {};
  if (v !== 'yes' && v !== 'no') throw new AppError('invalid_input', `${flag} must be yes or no, not "${v}"`);
  return { [key]: v === 'yes' };
}

function summarise(r: unknown): string {
  return Object.entries(r as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}
