/**
 * The one typed contract between the renderer and the main process.
 *
 * Every call is declared once here (name → input schema, output schema). The main side validates
 * inputs against these schemas before any handler runs (src/main/app/dispatch.ts); the Electron
 * preload and the browser transport both implement `ContractClient`. Adding a call = one entry
 * here + its handler in src/main/app/handlers.ts (the type checker insists on the handler).
 */
import { z } from 'zod';
import { AppInfo, Job, JobEvent, JobState, Project, ProjectName } from './domain';
import { Behaviour, DataRecord, Dataset, JudgeAgreementView, KeepJudgeLabels, RecordPage, RecordQuery, Rejection } from './data';
import { ModelJudgeId } from './methods/curationJudges';
import { JobSpec } from './jobs';
import { RegisteredModel } from './models';
import { MergeConfig, MergePlanSummary, MergeRunRequest, MergeSweep, MergeSweepRequest } from './merge';
import { EvalResult, EvalRun, Rate, VerdictLabel } from './eval';
import { TrainMemoryEstimate, TrainMemoryInput, TrainMetric } from './train';
import { ExportParams, PoolEligible, Selection, SelectionItem } from './select';
import { RecipeParams, RecipeResult } from './recipes';
import { Experiment, ExperimentRequest, ExperimentSummary } from './experiments';
import { ReplicationRequest, ReplicationStarted } from './replication';
import { AccessFolders, AccessPath, BrowseResult, Endpoint, Grant, NewEndpoint } from './access';

const Id = z.number().int().positive();

function call<I extends z.ZodType, O extends z.ZodType>(input: I, output: O, summary: string) {
  return { input, output, summary };
}

export const calls = {
  'app.info': call(z.object({}).strict(), AppInfo, 'Version, mode, workspace and job types'),

  'app.pickPath': call(
    z.object({ kind: z.enum(['file', 'folder']), title: z.string().max(200).optional() }).strict(),
    z.object({ path: z.string().nullable() }),
    'Ask the OS file dialog for a path (desktop app only) and grant reading it; null when the user cancels',
  ),

  'access.folders': call(z.object({}).strict(), AccessFolders, 'The workspace and the folders and files it may read'),
  'access.grant': call(z.object({ path: AccessPath }).strict(), Grant, 'Grant reading a folder (and everything below it) or one file'),
  'access.revoke': call(z.object({ id: Id }).strict(), z.object({ id: Id }), 'Withdraw a grant'),
  'access.browse': call(
    z.object({ path: AccessPath.optional() }).strict(),
    BrowseResult,
    "A readable folder's entries (name, kind, size); without a path, the readable places",
  ),
  'access.endpoints': call(z.object({}).strict(), z.array(Endpoint), 'The OpenAI-compatible servers evaluations may call'),
  'access.addEndpoint': call(NewEndpoint, Endpoint, 'Configure a server evaluations may call (its API key is stored, never returned)'),
  'access.removeEndpoint': call(z.object({ id: Id }).strict(), z.object({ id: Id }), 'Remove a configured server'),

  'projects.list': call(z.object({}).strict(), z.array(Project), 'All projects, newest first'),
  'projects.get': call(z.object({ id: Id }).strict(), Project, 'One project'),
  'projects.create': call(z.object({ name: ProjectName }).strict(), Project, 'Create a project'),
  'projects.rename': call(z.object({ id: Id, name: ProjectName }).strict(), Project, 'Rename a project'),
  'projects.delete': call(
    z.object({ id: Id }).strict(),
    z.object({ id: Id, cancelledJobs: z.number().int().nonnegative() }),
    'Delete a project, cancelling its jobs',
  ),

  'jobs.list': call(
    z
      .object({
        projectId: Id.nullable().optional(),
        states: z.array(JobState).optional(),
        limit: z.number().int().min(1).max(1000).default(200),
      })
      .strict(),
    z.array(Job),
    'Jobs, newest first',
  ),
  'jobs.get': call(z.object({ id: Id }).strict(), Job, 'One job'),
  'jobs.events': call(
    z.object({ id: Id, limit: z.number().int().min(1).max(1000).default(100) }).strict(),
    z.array(JobEvent),
    "A job's event log, oldest first",
  ),
  'jobs.start': call(z.object({ projectId: Id.nullable().default(null), spec: JobSpec }).strict(), Job, 'Queue a background job'),
  'jobs.cancel': call(z.object({ id: Id }).strict(), Job, 'Cancel a queued or running job'),
  'jobs.resume': call(z.object({ id: Id }).strict(), Job, 'Resume an interrupted, failed or cancelled job from its last checkpoint'),

  'jobs.clearFinished': call(
    z.object({ projectId: Id.nullable().optional() }).strict(),
    z.object({ deleted: z.array(Id) }),
    'Delete finished (succeeded, failed or cancelled) jobs and their event logs; queued, running and interrupted jobs stay',
  ),

  'data.taxonomy': call(
    z.object({}).strict(),
    z.object({ id: z.string(), version: z.string(), categories: z.array(z.object({ id: z.string(), name: z.string() })) }),
    'The harm taxonomy (BeaverTails 14 categories, canonical)',
  ),
  'data.datasets': call(z.object({ projectId: Id }).strict(), z.array(Dataset), "A project's imported data sets"),
  'data.records': call(RecordQuery, RecordPage, 'Records, filtered and paged'),
  'data.rejections': call(
    z.object({ datasetId: Id, offset: z.number().int().nonnegative().default(0), limit: z.number().int().min(1).max(1000).default(100) }).strict(),
    z.object({ total: z.number().int().nonnegative(), rows: z.array(Rejection) }),
    'Rows an import rejected, with file, line and reason',
  ),
  'data.embeddingMap': call(
    z.object({ datasetId: Id, maxPoints: z.number().int().min(10).max(20_000).default(3000) }).strict(),
    z.object({
      total: z.number().int(),
      embedder: z.string(),
      explained: z.tuple([z.number(), z.number()]),
      points: z.array(z.object({ id: Id, x: z.number(), y: z.number(), categories: z.array(z.string()), behaviour: z.string().nullable(), text: z.string() })),
    }),
    "2-D projection (PCA) of a data set's prompt embeddings",
  ),
  'data.deleteDataset': call(z.object({ id: Id }).strict(), z.object({ id: Id }), 'Delete a data set and its records'),
  'data.dropRecords': call(
    z.object({ datasetId: Id, recordIds: z.array(Id).min(1).max(100_000) }).strict(),
    z.object({ dropped: z.number().int().nonnegative(), remaining: z.number().int().nonnegative() }),
    'Remove records from a data set (e.g. the rows a poison screen flagged); records of other data sets are left alone',
  ),
  'data.correctRecord': call(
    z
      .object({
        id: Id,
        categories: z.array(z.string().min(1).max(100)).max(14).optional(),
        behaviour: Behaviour.nullable().optional(),
      })
      .strict(),
    DataRecord,
    "Correct a record's harm categories or behaviour type",
  ),
  'data.judgeAgreement': call(
    z.object({ datasetId: Id, judge: ModelJudgeId.optional() }).strict(),
    JudgeAgreementView,
    "A model judge's verdicts on a data set against the built-in detectors': confusion tables, agreement, parse errors, the disagreeing records",
  ),
  'data.keepJudgeLabels': call(
    KeepJudgeLabels,
    z.object({ changed: z.number().int().nonnegative(), categories: z.number().int().nonnegative() }),
    "Keep the model judge's (or the built-in detectors') behaviour types, for all judged records or the disagreeing ones, as corrections (the judge's categories too, where it gave some); how many records' types and categories changed",
  ),

  'select.list': call(z.object({ projectId: Id }).strict(), z.array(Selection), "A project's saved selections"),
  'select.get': call(
    z.object({ id: Id }).strict(),
    z.object({ selection: Selection, items: z.array(SelectionItem) }),
    'A selection (preview or saved) with its examples',
  ),
  'select.eligible': call(
    z.object({ projectId: Id, t1Only: z.boolean().default(false), categories: z.array(z.string().min(1)).min(1).max(14).optional() }).strict(),
    PoolEligible,
    'How many safety-pool examples a selection may take, in all and per harm category (T1 only for the -B variants; with categories, those carrying one)',
  ),
  'select.save': call(z.object({ id: Id, name: z.string().trim().min(1).max(120) }).strict(), Selection, 'Save a preview under a name'),
  'select.delete': call(z.object({ id: Id }).strict(), z.object({ id: Id }), 'Delete a selection'),
  'select.export': call(
    ExportParams,
    z.object({ path: z.string(), count: z.number().int(), task: z.number().int(), safety: z.number().int() }),
    "Write the training mix (task data + selection) as JSONL to a new file in the workspace's exports folder",
  ),

  'eval.builtinSuites': call(
    z.object({}).strict(),
    z.array(z.object({ id: z.string(), kind: z.string(), title: z.string(), path: z.string() })),
    'The built-in suites and where their files live under a data folder',
  ),
  'eval.runs': call(z.object({ projectId: Id }).strict(), z.array(EvalRun), "A project's evaluation runs with their metrics"),
  'eval.get': call(z.object({ id: Id }).strict(), EvalRun, 'One run with metrics (corrections applied)'),
  'eval.results': call(
    z
      .object({
        id: Id,
        suiteId: z.string().optional(),
        offset: z.number().int().nonnegative().default(0),
        limit: z.number().int().min(1).max(500).default(100),
      })
      .strict(),
    z.object({ total: z.number().int(), rows: z.array(EvalResult) }),
    'Per-example results of a run, for the inspector',
  ),
  'eval.correct': call(
    z.object({ id: Id, suiteId: z.string().min(1), itemId: z.string().min(1), judgeId: z.string().min(1), label: VerdictLabel.nullable() }).strict(),
    EvalRun,
    "Correct (or, with null, restore) one judge's verdict; returns the run with updated metrics",
  ),
  'eval.rename': call(z.object({ id: Id, name: z.string().trim().min(1).max(120) }).strict(), z.object({ id: Id }), 'Rename a run'),
  'eval.delete': call(z.object({ id: Id }).strict(), z.object({ id: Id }), 'Delete a run and its results'),
  'eval.compare': call(
    z.object({ ids: z.array(Id).min(1).max(100) }).strict(),
    z.array(
      z.object({
        runId: Id,
        name: z.string(),
        /** The evaluated model said fully: "stories260K (base, no adapter)", "stories260K + LoRA run #12 (DER · …)". */
        model: z.string(),
        /** The LoRA adapter folder evaluated with the model; null for the base model alone (or a server). */
        adapter: z.string().nullable(),
        generator: z.string().nullable(),
        judge: z.string().nullable(),
        examples: z.number().int(),
        attackSuccess: Rate,
        refusal: Rate,
        overRefusal: Rate,
        task: Rate,
        /** Attack success per harm category over the run's harmful suites (primary judge). */
        perCategory: z.array(z.object({ category: z.string(), attackSuccess: Rate })),
      }),
    ),
    'Safety vs over-refusal vs utility, one row per run, with attack success per harm category',
  ),

  'train.metrics': call(z.object({ jobId: Id }).strict(), z.array(TrainMetric), "A training job's loss curve (one entry per optimiser step)"),
  'train.exportRecipe': call(
    RecipeParams,
    RecipeResult,
    "Write a run's settings and training mix as a LLaMA-Factory or Axolotl recipe (YAML, data, DeepSpeed ZeRO-2/3 configs, README) into a new folder of the workspace's exports folder",
  ),
  'train.estimateMemory': call(
    TrainMemoryInput,
    TrainMemoryEstimate,
    'Estimated peak memory of a LoRA or full-parameter run before it starts (from config.json or the GGUF header; no weights read)',
  ),

  'merge.start': call(
    z
      .object({
        projectId: Id.nullable().default(null),
        run: MergeRunRequest.omit({ outPath: true, addToModels: true }),
        /** default: the base model's format */
        format: z.enum(['hf', 'gguf']).optional(),
      })
      .strict(),
    Job,
    'Queue a merge into a new folder of models/ (a GGUF file or a Hugging Face folder); the merged model is added to the Models list when written',
  ),
  'merge.plan': call(
    z
      .object({
        run: MergeRunRequest.omit({ outPath: true, addToModels: true }),
        format: z.enum(['hf', 'gguf']).optional(),
      })
      .strict(),
    MergePlanSummary,
    'What a merge will take before it is queued, from the models’ headers: output size, peak memory, free disk where models/ is',
  ),
  'merge.toYaml': call(z.object({ config: MergeConfig }).strict(), z.object({ yaml: z.string() }), 'The mergekit YAML of a merge config'),
  'merge.fromYaml': call(
    z.object({ yaml: z.string().max(1 << 20, 'a merge config is at most 1 MiB'), file: z.string().max(300).default('merge.yml') }).strict(),
    MergeConfig,
    'A mergekit YAML read into a merge config (relative paths against the workspace); errors name the line and field',
  ),
  'merge.startSweep': call(
    MergeSweepRequest,
    MergeSweep,
    'Queue a coefficient sweep: per α a merge of aligned + α·(fine-tuned − aligned) into models/, added to the Models list, then evaluated on the chosen suites',
  ),
  'merge.sweeps': call(
    z.object({ projectId: Id }).strict(),
    z.array(MergeSweep),
    "A project's coefficient sweeps, newest first, with each α's step, jobs, model and evaluation",
  ),
  'merge.sweep': call(z.object({ id: Id }).strict(), MergeSweep, 'One coefficient sweep: per α its step, jobs, model, evaluation run and headline metrics'),

  'experiment.start': call(
    ExperimentRequest,
    Experiment,
    'Queue an experiment grid: per arm and seed a selection (when the arm runs a selection method), a training run, then an evaluation of what it wrote on the chosen suites',
  ),
  'experiment.list': call(
    z.object({ projectId: Id }).strict(),
    z.array(Experiment),
    "A project's experiment grids, newest first, with each cell's step, jobs and evaluation",
  ),
  'experiment.get': call(
    z.object({ id: Id }).strict(),
    Experiment,
    'One experiment grid: per cell its step, jobs, selection, evaluation run and headline metrics',
  ),
  'experiment.cancel': call(z.object({ id: Id }).strict(), Experiment, "Cancel a grid's queued and running jobs (resume a job to carry on from there)"),
  'experiment.summary': call(
    z.object({ id: Id }).strict(),
    ExperimentSummary,
    "A grid's results per arm over its evaluated seeds: attack success, refusal, over-refusal and task score, overall and per suite, each as a mean with its 95% interval (Student t over seeds)",
  ),

  'replicate.start': call(
    ReplicationRequest,
    ReplicationStarted,
    'Start the miniature replication: the project "Miniature replication" with the shipped data and aligned model (set up once, as jobs), then the preset’s experiment grid once they succeed; returns at once',
  ),
  'replicate.get': call(z.object({ id: Id }).strict(), ReplicationStarted, 'One start of the miniature replication: its set-up steps, then its grid'),

  'models.list': call(z.object({}).strict(), z.array(RegisteredModel), 'The Models list'),
  'models.remove': call(z.object({ id: Id }).strict(), z.object({ id: Id }), 'Remove a model from the list (files stay)'),
} as const;

export type Calls = typeof calls;
export type CallName = keyof Calls;
/** What a caller passes (defaults still optional). */
export type CallInput<N extends CallName> = z.input<Calls[N]['input']>;
/** What a handler receives (after validation and defaults). */
export type ParsedInput<N extends CallName> = z.output<Calls[N]['input']>;
export type CallOutput<N extends CallName> = z.output<Calls[N]['output']>;

export const events = {
  'job.updated': Job,
  'projects.changed': z.object({}),
  'data.changed': z.object({ projectId: Id }),
  /** Live output of a running job (generated text); not persisted. */
  'job.stream': z.object({ jobId: Id, text: z.string() }),
  'models.changed': z.object({}),
  /** Finished jobs were deleted from the Jobs list (jobs.clearFinished). */
  'jobs.cleared': z.object({ deleted: z.array(Id) }),
  /** A sweep queued a step, or one of its jobs finished (refetch it with merge.sweep). */
  'merge.sweepChanged': z.object({ sweepId: Id, projectId: Id }),
  /** A grid queued a step, or one of its jobs finished (refetch it with experiment.get). */
  'experiment.changed': z.object({ experimentId: Id, projectId: Id }),
  /** A start of the miniature replication finished a set-up step or started its grid (refetch it with replicate.get). */
  'replication.changed': z.object({ replicationId: Id, projectId: Id }),
  /** Grants or configured servers changed. */
  'access.changed': z.object({}),
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export function isCallName(name: string): name is CallName {
  return Object.prototype.hasOwnProperty.call(calls, name);
}

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(events, name);
}

/** Implemented by the Electron preload bridge and by the browser transport alike. */
export interface ContractClient {
  call<N extends CallName>(name: N, input: CallInput<N>): Promise<CallOutput<N>>;
  subscribe<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** The shape the preload exposes on `window.safetune` (raw envelopes; the renderer wraps it). */
export interface PreloadBridge {
  call(name: string, input: unknown): Promise<import('./errors').CallResult<unknown>>;
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
}

/** Limits shared by both transports. */
export const MAX_CALL_BODY_BYTES = 1024 * 1024;
