import type { CallName, CallOutput, ParsedInput } from '../../shared/contract';
import type { Services } from './services';

export type Handler<N extends CallName> = (input: ParsedInput<N>) => Promise<CallOutput<N>> | CallOutput<N>;
export type Handlers = { [N in CallName]: Handler<N> };

/** One handler per contract call. Inputs arrive already validated against their schemas. */
export function createHandlers(s: Services): Handlers {
  return {
    'app.info': () => s.info(),

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
      if (projectId !== null) s.projects.get(projectId);
      return s.jobs.enqueue(spec.type, spec.params, projectId);
    },
    'jobs.cancel': ({ id }) => s.jobs.cancel(id),
    'jobs.resume': ({ id }) => s.jobs.resume(id),
  };
}
