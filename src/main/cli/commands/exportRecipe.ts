import { AppError } from '../../../shared/errors';
import { RecipeParams, RecipeTool } from '../../../shared/recipes';
import { exportRecipe } from '../../app/exportRecipe';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { runSettingOptions, runSettingsFrom, runSettingUsage } from './runOptions';

const usage =
  `safetune export-recipe --tool llamafactory|axolotl --model NAME_OR_PATH ${runSettingUsage} ` +
  '[--epochs N] [--grad-accum N] [--warmup N] [--dropout P] [--replay-ratio R] [--zero 2|3] [--precision bf16|fp16|fp32] [--chat-template NAME] [--allow-method-downgrade] [--name NAME] [--workspace DIR] [--json]';

/**
 * A run's settings and training mix as a LLaMA-Factory or Axolotl recipe folder in the workspace's
 * exports/ (training YAML, data, DeepSpeed ZeRO-2/3 configs, README); prints where it went.
 */
export const exportRecipeCommand: Command = {
  name: 'export-recipe',
  usage,
  summary: 'Export a run as a LLaMA-Factory or Axolotl recipe for a GPU cluster (DeepSpeed ZeRO-2/3)',
  async run(argv, env) {
    const { values } = parse(
      argv,
      {
        ...workspaceOption,
        ...runSettingOptions,
        tool: { type: 'string' },
        model: { type: 'string' },
        epochs: { type: 'string' },
        'grad-accum': { type: 'string', default: '1' },
        warmup: { type: 'string', default: '0' },
        dropout: { type: 'string', default: '0.05' },
        'replay-ratio': { type: 'string' },
        zero: { type: 'string', default: '2' },
        precision: { type: 'string', default: 'bf16' },
        'chat-template': { type: 'string' },
        'allow-method-downgrade': { type: 'boolean', default: false },
        name: { type: 'string' },
      },
      usage,
    );
    const tool = RecipeTool.safeParse(values.tool);
    if (!tool.success) throw new AppError('invalid_input', `--tool must be one of ${RecipeTool.options.join(', ')}\nusage: ${usage}`);
    if (!values.model) throw new AppError('invalid_input', `--model is required: the base model as the cluster loads it (a Hugging Face Hub id or a path there)\nusage: ${usage}`);
    const params = jobParams(RecipeParams, {
      ...runSettingsFrom(values, usage, Number(values.dropout)),
      tool: tool.data,
      model: values.model,
      gradAccumSteps: Number(values['grad-accum']),
      warmupSteps: Number(values.warmup),
      zeroStage: Number(values.zero),
      precision: values.precision,
      allowMethodDowngrade: values['allow-method-downgrade'],
      ...(values.epochs !== undefined ? { epochs: Number(values.epochs) } : {}),
      ...(values['replay-ratio'] !== undefined ? { replayRatio: Number(values['replay-ratio']) } : {}),
      ...(values['chat-template'] !== undefined ? { chatTemplate: values['chat-template'] } : {}),
      ...(values.name !== undefined ? { name: values.name } : {}),
    });
    return withServices(env, values.workspace, {}, async (s) => {
      const r = await exportRecipe(s, params);
      if (values.json) env.io.out(JSON.stringify(r));
      else {
        env.io.out(`recipe: ${r.folder}`);
        env.io.out(`files: ${r.files.join(', ')}`);
        env.io.out(`method: ${r.method}${r.downgraded ? ` (requested ${r.requestedMethod}, downgraded)` : ''}; ${r.examples.total} examples (${r.examples.task} task + ${r.examples.safety} safety)`);
        env.io.out(`launch, inside that folder: ${r.launch}`);
        for (const n of r.notes) env.io.out(`note: ${n}`);
      }
      return 0;
    });
  },
};
