import { parse, withServices, workspaceOption, type Command } from '../command';

const usage = 'safetune info [--workspace DIR] [--json]';

export const infoCommand: Command = {
  name: 'info',
  usage,
  summary: 'Version, workspace, database and job types',
  async run(argv, env) {
    const { values } = parse(argv, workspaceOption, usage);
    return withServices(env, values.workspace, {}, async (s) => {
      const info = { ...s.info(), mode: 'cli' as const };
      if (values.json) env.io.out(JSON.stringify(info));
      else {
        env.io.out(`SafeTune Workbench ${info.version}`);
        env.io.out(`workspace: ${info.workspace}`);
        env.io.out(`database:  ${info.databasePath} (schema ${info.schemaVersion})`);
        env.io.out(`job types: ${info.jobTypes.map((t) => t.type).join(', ')}`);
      }
      return 0;
    });
  },
};
