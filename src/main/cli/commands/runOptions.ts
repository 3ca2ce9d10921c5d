/**
 * The run settings of a fine-tuning run as CLI options, shared by `safetune train` and
 * `safetune export-recipe` so both read them the same way, from the same source: --method and each
 * method's own options from the training-method table, the optimisation and LoRA settings from
 * their schemas (TrainSettings, LoraSettings), and the project, selection and template.
 */
import type { ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { AppError } from '../../../shared/errors';
import { BASE_QUANTS, baseQuantFromCli, LoraSettings, TrainSettings, type TrainMethodRow, type TrainMethodTable } from '../../../shared/train';
import {
  methodChoices,
  methodOptionDocs,
  methodParamsFromArgs,
  methodsUsage,
  settingsDocs,
  settingsFromArgs,
  settingsOptions,
  settingsUsage,
  withMethodOptions,
} from '../methodOptions';

/** `--base-quant` values: the table's ids with their short aliases ("q4_0|q4") */
const baseQuantChoices = Object.entries(BASE_QUANTS)
  .map(([id, row]) => ('alias' in row ? `${id}|${row.alias}` : id))
  .join('|');
const baseQuantDocs = Object.entries(BASE_QUANTS)
  .map(([id, row]) => `${id}${'alias' in row ? ` (${row.alias})` : ''}: ${row.description}`)
  .join('; ');

const needsNote = (methods: TrainMethodTable) => (id: string) => {
  const row = methods[id] as TrainMethodRow;
  return [row.safety ? 'needs --selection ID' : '', row.baseModel ? 'needs --base-model PATH' : '', row.loraOnly ? 'LoRA only' : ''].filter(Boolean).join('; ');
};

/**
 * The run-setting options for a table of methods, with `own` (the command's other options: a
 * method parameter whose flag clashes with one is an error when the command is built). `settings`
 * is the optimisation settings' schema: TrainSettings, or the part of it a command takes.
 */
export function runSettingsCli<O extends NonNullable<ParseArgsConfig['options']>>(methods: TrainMethodTable, own: O, settings: z.ZodObject = TrainSettings) {
  const options = withMethodOptions(
    {
      ...own,
      project: { type: 'string' },
      method: { type: 'string', default: 'plain' },
      selection: { type: 'string' },
      template: { type: 'string', default: 'alpaca' },
      ...settingsOptions(settings),
      ...settingsOptions(LoraSettings),
      'base-quant': { type: 'string' },
    } as const,
    methods,
    'training method',
  );
  /** "[--method …] [--selection ID] [--template …] [--lr X …]" (commands write --project ID before it). */
  const commonUsage = `[--method ${methodChoices(methods)}] [--selection ID] [--template alpaca|chat|plain] ${settingsUsage(settings)}`;
  /** "[--rank N …] [--base-quant …]": the LoRA settings and the frozen base's quantisation. */
  const loraUsage = `${settingsUsage(LoraSettings)} [--base-quant ${baseQuantChoices}]`;
  const usage = `${commonUsage} ${loraUsage}`;
  /** The methods with their one line and their options, for the end of the usage text. */
  const methodsText = `    methods (and their options):\n${methodsUsage(methods, needsNote(methods)).replace(/^/gm, '    ')}`;

  /**
   * The run settings as the job's fields (the command's schema checks ranges and fills in defaults
   * afterwards): the project, the method and its parameters, the selection, template and settings.
   */
  function read(values: Record<string, unknown>, fullUsage: string) {
    if (!values.project) throw new AppError('invalid_input', `--project is required\nusage: ${fullUsage}`);
    const method = String(values.method);
    const row = methods[method] as TrainMethodRow | undefined;
    if (!row) throw new AppError('invalid_input', `--method must be one of ${Object.keys(methods).join(', ')}`);
    if (row.safety && !values.selection) {
      throw new AppError(
        'invalid_input',
        `--method ${method} needs --selection ID: a saved selection of safety examples (safetune select --project ID prints the id of the one it saves)`,
      );
    }
    return {
      projectId: Number(values.project),
      method,
      methodParams: methodParamsFromArgs(methods, method, values),
      ...(values.selection ? { selectionId: Number(values.selection) } : {}),
      template: values.template,
      ...settingsFromArgs(settings, values),
      lora: settingsFromArgs(LoraSettings, values),
      ...(values['base-quant'] !== undefined ? { baseQuant: baseQuantFromCli(String(values['base-quant'])) } : {}),
    };
  }

  /** `--help` lines of the run options: the shared ones here, the settings and method parameters from their tables. */
  const docs: Record<string, string> = {
    method: 'The training method (see "methods" below).',
    selection: 'A saved selection of safety examples, by id (safetune select prints it): replayed, or the DER buffer / EWC / A-GEM memory.',
    template: "How prompts are rendered: the Alpaca template, the model's own chat template, or as they are.",
    ...settingsDocs(settings),
    ...settingsDocs(LoraSettings),
    'base-quant': `LoRA on a quantised frozen base (QLoRA-style: the base quantised on load, fp32 adapter and compute; turns on --recompute): ${baseQuantDocs}.`,
    ...methodOptionDocs(methods),
  };

  return { options, usage, commonUsage, loraUsage, methodsText, read, docs };
}
