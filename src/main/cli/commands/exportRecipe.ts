import { AppError } from '../../../shared/errors';
import { RecipeParams, RecipeSettings, RecipeTool } from '../../../shared/recipes';
import { TRAIN_METHODS, type TrainMethodTable } from '../../../shared/train';
import { exportRecipe } from '../../app/exportRecipe';
import { jobParams, parse, withServices, workspaceOption, type Command } from '../command';
import { runSettingsCli } from './runOptions';

/**
 * `safetune export-recipe` for a table of training methods: it takes the same run settings as
 * `safetune train` (runOptions.ts, from the method table and the settings' schemas) plus the
 * tool, the model as the cluster names it and the cluster's settings.
 */
export function exportRecipeCli(methods: TrainMethodTable = TRAIN_METHODS) {
  const run = runSettingsCli(
    methods,
    {
      ...workspaceOption,
      tool: { type: 'string' },
      model: { type: 'string' },
      epochs: { type: 'string' },
      zero: { type: 'string', default: '2' },
      precision: { type: 'string', default: 'bf16' },
      'chat-template': { type: 'string' },
      'allow-method-downgrade': { type: 'boolean', default: false },
      name: { type: 'string' },
    } as const,
    RecipeSettings,
  );
  const usage =
    `safetune export-recipe --tool llamafactory|axolotl --model NAME_OR_PATH --project ID ${run.usage} ` +
    `[--epochs N] [--zero 2|3] [--precision bf16|fp16|fp32] [--chat-template NAME] [--allow-method-downgrade] [--name NAME] [--workspace DIR] [--json]\n${run.methodsText}`;

  /** The export's parameters from the command line (checked by RecipeParams). */
  function params(argv: string[]): { params: RecipeParams; values: Record<string, unknown> } {
    const { values } = parse(argv, run.options, usage, {
      ...run.docs,
      tool: 'The distributed trainer to write a recipe for: LLaMA-Factory or Axolotl.',
      model: 'The base model as the cluster names it (a Hugging Face id or a path there).',
      epochs: 'Passes over the training data (the recipe’s own epochs field).',
      zero: 'DeepSpeed ZeRO stage of the recipe.',
      precision: 'Training precision on the cluster.',
      'chat-template': "The trainer's chat template name for the model (e.g. llama3).",
      'allow-method-downgrade':
        'Write the recipe even where the tool lacks the method (it then trains plain, or replay as data mixing), saying so in its README.',
      name: 'The recipe folder’s name (default: from the project and method).',
    });
    const tool = RecipeTool.safeParse(values.tool);
    if (!tool.success) throw new AppError('invalid_input', `--tool must be one of ${RecipeTool.options.join(', ')}\nusage: ${usage}`);
    if (!values.model)
      throw new AppError(
        'invalid_input',
        `--model is required: the base model as the cluster loads it (a Hugging Face Hub id or a path there)\nusage: ${usage}`,
      );
    const p = jobParams(RecipeParams, {
      ...run.read(values, usage),
      tool: tool.data,
      model: values.model,
      zeroStage: Number(values.zero),
      precision: values.precision,
      allowMethodDowngrade: values['allow-method-downgrade'],
      ...(values.epochs !== undefined ? { epochs: Number(values.epochs) } : {}),
      ...(values['chat-template'] !== undefined ? { chatTemplate: values['chat-template'] } : {}),
      ...(values.name !== undefined ? { name: values.name } : {}),
    });
    return { params: p, values };
  }

  const command: Command = {
    name: 'export-recipe',
    usage,
    summary: 'Export a run as a LLaMA-Factory or Axolotl recipe for a GPU cluster (DeepSpeed ZeRO-2/3)',
    async run(argv, env) {
      const { params: p, values } = params(argv);
      return withServices(env, values.workspace as string | undefined, {}, async (s) => {
        const r = await exportRecipe(s, p);
        if (values.json) env.io.out(JSON.stringify(r));
        else {
          env.io.out(`recipe: ${r.folder}`);
          env.io.out(`files: ${r.files.join(', ')}`);
          env.io.out(
            `method: ${r.method}${r.downgraded ? ` (requested ${r.requestedMethod}, downgraded)` : ''}; ${r.examples.total} examples (${r.examples.task} task + ${r.examples.safety} safety)`,
          );
          env.io.out(`launch, inside that folder: ${r.launch}`);
          for (const n of r.notes) env.io.out(`note: ${n}`);
        }
        return 0;
      });
    },
  };
  return { command, params };
}

/** A run's settings and training mix as a LLaMA-Factory or Axolotl recipe folder in the workspace's exports/; prints where it went. */
export const exportRecipeCommand: Command = exportRecipeCli().command;
