import type { CallName, CallOutput, ParsedInput } from '../../shared/contract';
import { AppError } from '../../shared/errors';
import { JobSpec } from '../../shared/jobs';
import { confineJob } from '../access/jobs';
import { AccessPolicy } from '../access/policy';
import { AccessStore } from '../db/access';
import { getHarmTaxonomy } from '../data/taxonomy';
import { embeddingMap } from './embeddingMap';
import { judgeAgreement, keepJudgeLabels } from './judgeAgreement';
import { compareRuns, runResults, runWithMetrics } from './evaluations';
import { exportTrainingMix } from './exportMix';
import { cancelExperiment, experimentSummary, experiments, experimentView, startExperiment } from './experiments';
import { exportRecipe } from './exportRecipe';
import { replicationDir, replicationView, startReplication } from './replication';
import { mergeConfigOf, mergeYamlOf, previewMerge, startMerge } from './merges';
import { mergeSweeps, mergeSweepView, startMergeSweep } from './sweeps';
import { builtinSuites } from '../eval/suites';
import { readTrainMetrics, trainRunDir } from '../jobs/types/trainRun';
import type { Services } from './services';

/** Job types the contract can start (their parameters carry paths the access policy checks). */
const JOB_TYPES = new Set<string>(JobSpec.options.map((o) => o.shape.type.value));

export type Handler<N extends CallName> = (input: ParsedInput<N>) => Promise<CallOutput<N>> | CallOutput<N>;
export type Handlers = { [N in CallName]: Handler<N> };

/** One handler per contract call. Inputs arrive already validated against their schemas. */
export function createHandlers(s: Services): Handlers {
  // Every path and URL a caller passes is checked here: the browser server and the desktop IPC both
  // serve these handlers (the CLI calls the services directly and is not confined).
  const access = new AccessPolicy(s.workspace, new AccessStore(s.db));
  const accessChanged = <T>(value: T): T => {
    s.events.emit('access.changed', {});
    return value;
  };
  return {
    'app.info': () => s.info(),
    'app.pickPath': async (o) => {
      if (!s.platform) {
        throw new AppError(
          'unsupported',
          'This window cannot open a file dialog (browser mode): grant the folder in Settings → Folders & servers, then use Browse…',
        );
      }
      const path = await s.platform.pickPath(o);
      // The OS dialog is how the desktop user grants a path: what they chose becomes readable.
      if (path !== null) accessChanged(access.grant(path));
      return { path };
    },

    'access.folders': () => ({ workspace: access.workspace, exportsDir: access.exportsDir, grants: access.grants() }),
    'access.grant': ({ path }) => accessChanged(access.grant(path)),
    'access.revoke': ({ id }) => {
      access.revoke(id);
      return accessChanged({ id });
    },
    'access.browse': ({ path }) => access.browse(path),
    'access.endpoints': () => access.endpoints(),
    'access.addEndpoint': (e) => accessChanged(access.addEndpoint(e)),
    'access.removeEndpoint': ({ id }) => {
      access.removeEndpoint(id);
      return accessChanged({ id });
    },

    'projects.list': () => s.projects.list(),
    'projects.get': ({ id }) => s.projects.get(id),
    'projects.create': ({ name }) => {
      const p = s.projects.create(name);
      s.events.emit('projects.changed', {});
      return p;
    },
    'projects.rename': ({ id, name }) => {
      const p = s.projects.rename(id, name);
      s.events.emit('projects.changed', {});
      return p;
    },
    'projects.delete': async ({ id }) => {
      s.projects.get(id);
      const cancelledJobs = await s.jobs.cancelProjectJobs(id);
      s.projects.delete(id);
      s.events.emit('projects.changed', {});
      return { id, cancelledJobs };
    },

    'jobs.list': (f) => s.jobs.list(f),
    'jobs.get': ({ id }) => s.jobs.get(id),
    'jobs.events': ({ id, limit }) => s.jobs.events(id, limit),
    'jobs.start': ({ projectId, spec }) => {
      // Jobs whose parameters name a project belong to it.
      const owner = 'projectId' in spec.params ? spec.params.projectId : projectId;
      if (owner !== null) s.projects.get(owner);
      const confined = confineJob(spec, access, 'start');
      return s.jobs.enqueue(confined.type, confined.params, owner);
    },
    'jobs.cancel': ({ id }) => s.jobs.cancel(id),
    'jobs.clearFinished': ({ projectId }) => {
      const deleted = s.jobs.clearFinished(projectId);
      s.events.emit('jobs.cleared', { deleted });
      return { deleted };
    },
    'jobs.resume': ({ id }) => {
      const job = s.jobs.get(id);
      const spec = JobSpec.safeParse({ type: job.type, params: job.params });
      if (spec.success) confineJob(spec.data, access, 'resume');
      else if (JOB_TYPES.has(job.type)) {
        throw new AppError('invalid_input', `Job ${id} was started by an older version with parameters this one does not accept: start it again`, { id });
      }
      return s.jobs.resume(id);
    },

    'select.list': ({ projectId }) => s.selections.list(projectId),
    'select.get': ({ id }) => ({ selection: s.selections.get(id), items: s.selections.items(id) }),
    'select.eligible': ({ projectId, t1Only, categories }) => {
      s.projects.get(projectId);
      return s.datasets.poolEligible(projectId, { t1Only, categories });
    },
    'select.save': ({ id, name }) => s.selections.save(id, name),
    'select.delete': ({ id }) => {
      s.selections.delete(id);
      return { id };
    },
    'select.export': (p) => exportTrainingMix(s, p),

    'eval.builtinSuites': () => builtinSuites().map((b) => ({ id: b.id, kind: b.kind, title: b.title, path: b.path })),
    'eval.runs': ({ projectId }) => {
      s.projects.get(projectId);
      return s.evaluations.runs(projectId).map((r) => runWithMetrics(s, r.id));
    },
    'eval.get': ({ id }) => runWithMetrics(s, id),
    'eval.results': ({ id, suiteId, offset, limit }) => {
      s.evaluations.run(id);
      return runResults(s, id, suiteId, offset, limit);
    },
    'eval.correct': ({ id, suiteId, itemId, judgeId, label }) => {
      if (label === null) s.evaluations.removeCorrection(id, suiteId, itemId, judgeId);
      else s.evaluations.correct(id, { suiteId, itemId, judgeId, label });
      return runWithMetrics(s, id);
    },
    'eval.rename': ({ id, name }) => {
      s.evaluations.rename(id, name);
      return { id };
    },
    'eval.delete': ({ id }) => {
      const run = s.evaluations.run(id);
      if (run.jobId !== null && ['queued', 'running'].includes(s.jobs.get(run.jobId).state)) {
        throw new AppError('conflict', `Run ${id} is still being evaluated by job ${run.jobId}: cancel that job first`);
      }
      s.evaluations.deleteRun(id);
      return { id };
    },
    'eval.compare': ({ ids }) => compareRuns(s, ids),

    // reads an untrusted model header: in a one-shot worker with a heap cap and a time limit
    'train.estimateMemory': (p) => {
      access.readable(p.modelPath, 'the model');
      return s.jobs.runTask('train.estimateMemory', p);
    },

    'train.exportRecipe': (p) => exportRecipe(s, p),

    'train.metrics': ({ jobId }) => {
      const job = s.jobs.get(jobId);
      if (job.type !== 'train.run') throw new AppError('invalid_input', `Job ${jobId} is a ${job.type} job, not a training run`);
      return readTrainMetrics(trainRunDir(s.workspace, jobId));
    },

    'merge.start': ({ projectId, run, format }) => startMerge(s, projectId, run, format, access),
    // reads untrusted model headers: in a one-shot worker with a heap cap and a time limit
    'merge.plan': ({ run, format }) => previewMerge(s, run, format, access),
    'merge.toYaml': ({ config }) => mergeYamlOf(config),
    'merge.fromYaml': ({ yaml, file }) => mergeConfigOf(s, yaml, file),
    'merge.startSweep': (req) => startMergeSweep(s, req, access),
    'merge.sweeps': ({ projectId }) => mergeSweeps(s, projectId),
    'merge.sweep': ({ id }) => mergeSweepView(s, id),

    'experiment.start': (req) => startExperiment(s, req, access),
    'experiment.list': ({ projectId }) => experiments(s, projectId),
    'experiment.get': ({ id }) => experimentView(s, id),
    'experiment.cancel': ({ id }) => cancelExperiment(s, id),
    'experiment.summary': ({ id }) => experimentSummary(s, id),
    // the app's own paths (resources/replication, the workspace): nothing the caller names to confine;
    // the shipped folder is granted (listed in Folders & servers) so its jobs can be resumed and its files used here
    'replicate.start': (req) => {
      accessChanged(access.grant(replicationDir()));
      return startReplication(s, req);
    },
    'replicate.get': ({ id }) => replicationView(s, id),

    'models.list': () => s.models.list(),
    'models.remove': ({ id }) => {
      s.models.remove(id);
      s.events.emit('models.changed', {});
      return { id };
    },
    'data.taxonomy': () => {
      const t = getHarmTaxonomy();
      return { id: t.file.id, version: t.version, categories: t.categories.map((c) => ({ id: c.id, name: c.name })) };
    },
    'data.datasets': ({ projectId }) => {
      s.projects.get(projectId);
      return s.datasets.list(projectId);
    },
    'data.records': (q) => s.datasets.records(q),
    'data.rejections': ({ datasetId, offset, limit }) => {
      s.datasets.get(datasetId);
      return s.datasets.rejections(datasetId, offset, limit);
    },
    'data.embeddingMap': ({ datasetId, maxPoints }) => embeddingMap(s, datasetId, maxPoints),
    'data.deleteDataset': ({ id }) => {
      const d = s.datasets.get(id);
      if (d.state === 'importing' && d.jobId !== null && ['queued', 'running'].includes(s.jobs.get(d.jobId).state)) {
        throw new AppError('conflict', `Dataset ${id} is still being imported by job ${d.jobId}: cancel that job first`);
      }
      s.datasets.delete(id);
      s.events.emit('data.changed', { projectId: d.projectId });
      return { id };
    },
    'data.dropRecords': ({ datasetId, recordIds }) => {
      const d = s.datasets.get(datasetId);
      if (d.state !== 'ready') throw new AppError('conflict', `Dataset ${datasetId} is ${d.state}: rows can be dropped once it is ready`);
      const r = s.datasets.dropRecords(datasetId, recordIds);
      s.events.emit('data.changed', { projectId: d.projectId });
      return r;
    },
    'data.correctRecord': ({ id, categories, behaviour }) => {
      const taxonomy = getHarmTaxonomy();
      const canonical = categories?.map((c) => {
        const resolved = taxonomy.resolve(c);
        if (!resolved) throw new AppError('invalid_input', `Unknown harm category "${c}"`, { category: c });
        return resolved;
      });
      return s.datasets.correctRecord(id, { categories: canonical, behaviour });
    },
    'data.judgeAgreement': ({ datasetId, judge }) => judgeAgreement(s, datasetId, judge),
    'data.keepJudgeLabels': (k) => {
      const r = keepJudgeLabels(s, k);
      s.events.emit('data.changed', { projectId: s.datasets.get(k.datasetId).projectId });
      return r;
    },
  };
}
