import { AppError } from '../../../shared/errors';
import { ProjectName } from '../../../shared/domain';
import { parse, table, withServices, workspaceOption, type Command } from '../command';

const usage = 'safetune projects list|create NAME|rename ID NAME|delete ID [--workspace DIR] [--json]';

export const projectsCommand: Command = {
  name: 'projects',
  usage,
  summary: 'List, create, rename and delete projects',
  async run(argv, env) {
    const { values, positionals } = parse(argv, workspaceOption, usage);
    const [sub, ...rest] = positionals;
    return withServices(env, values.workspace, {}, async (s) => {
      const print = (v: unknown, text: () => string) => env.io.out(values.json ? JSON.stringify(v) : text());
      switch (sub) {
        case 'list': {
          const list = s.projects.list();
          print(list, () => (list.length ? table(list, ['id', 'name', 'createdAt']) : 'no projects'));
          return 0;
        }
        case 'create': {
          const p = s.projects.create(ProjectName.parse(rest.join(' ')));
          print(p, () => `created project ${p.id} "${p.name}"`);
          return 0;
        }
        case 'rename': {
          const p = s.projects.rename(id(rest[0]), ProjectName.parse(rest.slice(1).join(' ')));
          print(p, () => `renamed project ${p.id} to "${p.name}"`);
          return 0;
        }
        case 'delete': {
          const pid = id(rest[0]);
          s.projects.delete(pid);
          print({ id: pid }, () => `deleted project ${pid}`);
          return 0;
        }
        default:
          throw new AppError('invalid_input', `unknown subcommand "${sub ?? ''}"\nusage: ${usage}`);
      }
    });
  },
};

function id(v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new AppError('invalid_input', `expected a project id, got "${v ?? ''}"`);
  return n;
}
