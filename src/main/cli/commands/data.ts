import { resolve } from 'node:path';
import { DatasetRole, type DataScreenResult, type JudgeAgreementView, type JudgeConfusion } from '../../../shared/data';
import { AppError } from '../../../shared/errors';
import { CURATION_JUDGES, CurationJudgeId, ModelJudgeId } from '../../../shared/methods/curationJudges';
import { judgeAgreement, keepJudgeLabels } from '../../app/judgeAgreement';
import { type Agreement, formatAgreement } from '../../detect/model-judges/agreement';
import { parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';

const usage =
  'safetune data import FILE --project ID --role task|safety_pool|harmful_eval|benign_eval [--name NAME] [--behaviour-field FIELD] | ' +
  'data analyse --project ID --dataset ID [--references DIR] [--embedder DIR] [--type yes|no] [--prompts-harmful yes|no] [--categories yes|no] ' +
  `[--judge ${CurationJudgeId.options.join('|')} [--model PATH | --http URL --http-model NAME]] | ` +
  'data agreement --project ID --dataset ID [--judge wildguard|llama-guard] | ' +
  'data keep-labels --project ID --dataset ID --judge wildguard|llama-guard --take judge|builtin [--disagreeing] | ' +
  'data screen --project ID --dataset ID [--typicality yes|no] [--drop]   [--workspace DIR] [--json]\n' +
  "  (agreement prints the model judge's verdicts of the last analyse --judge against the built-in detectors'; keep-labels takes one side's T1–T4 types as corrections)\n" +
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
        judge: { type: 'string' },
        model: { type: 'string' },
        http: { type: 'string' },
        'http-model': { type: 'string' },
        take: { type: 'string' },
        disagreeing: { type: 'boolean', default: false },
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
        judge: `analyse: who types the records besides the built-in detectors (${Object.entries(CURATION_JUDGES)
          .map(([id, row]) => `${id}: ${row.description}`)
          .join('; ')}). agreement, keep-labels: the model judge whose verdicts to use (default: the latest).`,
        model: 'analyse, with a model judge: the judge model, a GGUF file or a Hugging Face folder run by the engine.',
        http: 'analyse, with a model judge: an OpenAI-compatible server (vLLM, llama.cpp server, Ollama) serving the judge model, instead of --model.',
        'http-model': 'analyse, with --http: the model name the server serves.',
        take: "keep-labels: whose T1–T4 types the records keep, the judge's or the built-in detectors' (stored as corrections, which Analyse keeps).",
        disagreeing: 'keep-labels: only the records where the judge and the built-in detectors disagree (default: every judged record).',
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
        ...judgeOptions(values),
      };
    } else if (sub === 'agreement' || sub === 'keep-labels') {
      return withServices(env, values.workspace, {}, async (s) => {
        const datasetId = Number(values.dataset);
        if (s.datasets.get(datasetId).projectId !== projectId) throw new AppError('invalid_input', `data set ${datasetId} belongs to another project`);
        const judge = values.judge === undefined ? undefined : modelJudge(values.judge);
        if (sub === 'agreement') {
          const v = judgeAgreement(s, datasetId, judge);
          env.io.out(values.json ? JSON.stringify(v) : agreementText(v));
          return v.judge ? 0 : 1;
        }
        if (!judge) throw new AppError('invalid_input', `keep-labels needs --judge ${ModelJudgeId.options.join('|')}\nusage: ${usage}`);
        if (values.take !== 'judge' && values.take !== 'builtin') throw new AppError('invalid_input', `--take must be judge or builtin\nusage: ${usage}`);
        const r = keepJudgeLabels(s, { datasetId, judge, take: values.take, scope: values.disagreeing ? 'disagreeing' : 'all' });
        env.io.out(
          values.json
            ? JSON.stringify(r)
            : `${r.changed} records now carry ${values.take === 'judge' ? `${CURATION_JUDGES[judge].label}'s` : "the built-in detectors'"} types (kept as corrections)`,
        );
        return 0;
      });
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
      if (type === 'data.analyse' && params.judge && params.judge !== 'builtin' && !values.json)
        env.io.out(agreementText(judgeAgreement(s, Number(values.dataset), params.judge as ModelJudgeId)));
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

/** --judge with its model (--model PATH, or --http URL --http-model NAME) as Analyse options. */
function judgeOptions(values: { judge?: string | undefined; model?: string | undefined; http?: string | undefined; 'http-model'?: string | undefined }) {
  if (values.judge === undefined) {
    if (values.model || values.http)
      throw new AppError('invalid_input', '--model and --http name the model of a judge: give --judge wildguard|llama-guard too');
    return {};
  }
  const judge = CurationJudgeId.safeParse(values.judge);
  if (!judge.success) throw new AppError('invalid_input', `--judge must be ${CurationJudgeId.options.join(', ')}, not "${values.judge}"`);
  if (!CURATION_JUDGES[judge.data].model) {
    if (values.model || values.http) throw new AppError('invalid_input', `--judge ${judge.data} runs no model: leave out --model and --http`);
    return { judge: judge.data };
  }
  if (!values.model === !values.http)
    throw new AppError('invalid_input', `--judge ${judge.data} needs the judge model: --model PATH or --http URL --http-model NAME\nusage: ${usage}`);
  if (values.http && !values['http-model']) throw new AppError('invalid_input', '--http needs --http-model NAME (the model name the server serves)');
  return {
    judge: judge.data,
    judgeModel: values.http ? { kind: 'http', baseUrl: values.http, model: values['http-model']! } : { kind: 'engine', path: resolve(values.model!) },
  };
}

function modelJudge(v: string) {
  const j = ModelJudgeId.safeParse(v);
  if (!j.success) throw new AppError('invalid_input', `--judge must be ${ModelJudgeId.options.join(' or ')}, not "${v}"`);
  return j.data;
}

/** A confusion table in the detect command's layout (judge labels down, built-in labels across). */
function table(c: JudgeConfusion, judge: string, what: string): string[] {
  const n = Object.values(c.counts).reduce((a, row) => a + Object.values(row).reduce((x, y) => x + y, 0), 0);
  const a: Agreement = {
    judge,
    reference: `the built-in detectors (${what})`,
    n,
    noVerdict: n - c.compared,
    agree: c.agree,
    rate: c.rate,
    kappa: c.kappa,
    labels: c.labels,
    counts: c.counts,
  };
  return formatAgreement(a);
}

/** The agreement view as text: both tables, the problems, the disagreeing records. */
function agreementText(v: JudgeAgreementView): string {
  if (!v.judge) return `data set ${v.datasetId} has no model-judge verdicts: run data analyse --judge wildguard|llama-guard first`;
  const name = CURATION_JUDGES[v.judge].label;
  return [
    `${name} (${v.judgeModel}) on ${v.records} records: ${v.parseErrors} answers not in its format, ${v.failures} failed calls, ${v.noVerdict} without a verdict`,
    ...table(v.behaviour, name, 'T1–T4'),
    ...table(v.promptHarm, name, 'prompt harm'),
    ...v.errors.slice(0, 5).map((e) => `  record ${e.recordId}: ${e.message}${e.raw !== null ? ` — answer: ${JSON.stringify(e.raw.slice(0, 160))}` : ''}`),
    `${v.disagreeing} records disagree or got no verdict${v.disagreeing ? ':' : ''}`,
    ...v.disagreements
      .slice(0, 20)
      .map((d) => `  record ${d.recordId}  built-in ${d.builtin ?? '-'}  judge ${d.judge ?? 'no verdict'}  ${oneLine(d.prompt, 70)}`),
  ].join('\n');
}
