import { AppError } from '../../../shared/errors';
import type { Job } from '../../../shared/domain';
import { parse, table, withServices, workspaceOption, type Command } from '../command';

const usage = 'safetune jobs list [--project ID] [--workspace DIR] [--json] | jobs show ID';

export const jobsCommand: Command = {
  name: 'jobs',
  usage,
  summary: 'List background jobs and their state',
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...workspaceOption, project: { type: 'string' } }, usage);
    const [sub, arg] = positionals;
    return withServices(env, values.workspace, {}, async (s) => {
      if (sub === 'list') {
        const jobs = s.jobs.list({ projectId: values.project ? Number(values.project) : undefined, limit: 200 });
        if (values.json) env.io.out(JSON.stringify(jobs));
        else env.io.out(jobs.length ? table(jobs.map(summarise), ['id', 'type', 'state', 'progress', 'elapsed', 'title']) : 'no jobs');
        return 0;
      }
      if (sub === 'show') {
        const job = s.jobs.get(Number(arg));
        if (values.json) env.io.out(JSON.stringify({ ...job, events: s.jobs.events(job.id, 100) }));
        else {
          env.io.out(table([summarise(job)], ['id', 'type', 'state', 'progress', 'elapsed', 'title']));
          if (job.error) env.io.out(`error: ${job.error}`);
          for (const e of s.jobs.events(job.id, 100)) env.io.out(`${e.at}  ${e.kind}  ${e.message}`);
        }
        return 0;
      }
      throw new AppError('invalid_input', `unknown subcommand "${sub ?? ''}"\nusage: ${usage}`);
    });
  },
};

function summarise(j: Job) {
  return {
    id: j.id,
    type: j.type,
    state: j.state,
    progress: j.progress.fraction === null ? '-' : `${Math.round(j.progress.fraction * 100)}%`,
    elapsed: `${j.elapsedSeconds.toFixed(1)}s`,
    title: j.title,
  };
}
