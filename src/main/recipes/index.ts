/**
 * Recipe export (domain core: no db, jobs, app or cli): a run's settings and training mix as a
 * folder that LLaMA-Factory or Axolotl trains from on a cluster with DeepSpeed ZeRO-2/3 — the
 * training YAML, the mix as JSONL (plus LLaMA-Factory's dataset_info.json), both ZeRO configs and
 * a README saying how to launch it and bring the PEFT adapter back for evaluation.
 *
 *   const recipe = buildRecipe({ params, runName, project, selection, task, safety });
 *   await writeRecipe(newEmptyFolder, recipe);
 *
 * Methods the tool lacks are refused (or, acknowledged, exported as replay / plain): methods.ts.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { AppError } from '../../shared/errors';
import { trainMethodRow } from '../../shared/train';
import type { RecipeMethod, RecipeParams, RecipeResult } from '../../shared/recipes';
import { toJsonlLine, type MixFormat, type MixItem, type PromptResponse } from '../select/export';
import { AXOLOTL_YAML, axolotlDataFormat, axolotlNotes, axolotlYaml } from './axolotl';
import { MIX_FILE, README_FILE } from './common';
import { deepspeedConfig, deepspeedFile } from './deepspeed';
import { DATASET_INFO_FILE, datasetInfo, LLAMAFACTORY_YAML, llamaFactoryNotes, llamaFactoryYaml } from './llamafactory';
import { resolveMethod } from './methods';
import { recipeMix, replayRatio } from './mix';
import { recipeReadme } from './readme';

export { resolveMethod, fallbackMethod } from './methods';
export { drawReplay, recipeMix, replayCount, replayRatio } from './mix';
export { formatFloat, toYaml } from './yaml';
export { HF_MODULE_NAMES, MIX_FILE, README_FILE } from './common';
export { AXOLOTL_YAML } from './axolotl';
export { DATASET_INFO_FILE, LLAMAFACTORY_DATASET, LLAMAFACTORY_YAML } from './llamafactory';
export { deepspeedConfig, deepspeedFile } from './deepspeed';

export interface RecipeSource {
  /** Parsed RecipeParams (defaults applied). */
  params: RecipeParams;
  /** The recipe's name: its folder's, and the tool's output folder's. */
  runName: string;
  project: { id: number; name: string };
  selection: { id: number; name: string } | null;
  /** Task examples (prompt, response), in the project's order. */
  task: readonly PromptResponse[];
  /** The selection's examples (empty without a selection). */
  safety: readonly PromptResponse[];
  createdAt?: string;
}

export type RecipeFile = { name: string; text: string } | { name: string; rows: readonly MixItem[]; format: MixFormat };

export interface Recipe extends Omit<RecipeResult, 'folder' | 'files'> {
  files: RecipeFile[];
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export function launchCommand(tool: RecipeParams['tool']): string {
  return tool === 'llamafactory' ? `llamafactory-cli train ${LLAMAFACTORY_YAML}` : `accelerate launch -m axolotl.cli.train ${AXOLOTL_YAML}`;
}

export function buildRecipe(src: RecipeSource): Recipe {
  const p = src.params;
  if (src.task.length === 0)
    throw new AppError('invalid_input', `project ${src.project.id} has no task examples with a response: import task data first`, { field: 'taskDatasetIds' });
  const row = trainMethodRow(p.method);
  if (row.safety === 'replay' && !src.selection)
    throw new AppError('invalid_input', `${p.method} mixes a saved selection into the task data: choose one (--selection ID)`, { field: 'selectionId' });
  if (src.selection && src.safety.length === 0 && row.safety)
    throw new AppError('invalid_input', `selection ${src.selection.id} has no examples`, { field: 'selectionId' });
  const resolved = resolveMethod(p.tool, p.method, src.safety.length > 0, p.allowMethodDowngrade);
  const method: RecipeMethod = resolved.method;
  const ratio = replayRatio(p);
  const rows = recipeMix(method, src.task, src.safety, { seed: p.seed, ...(ratio !== undefined ? { replayRatio: ratio } : {}) });
  const safety = rows.filter((r) => r.source === 'safety').length;
  const examples = { task: rows.length - safety, safety, total: rows.length };

  const notes = p.tool === 'llamafactory' ? llamaFactoryNotes(p) : axolotlNotes(p);
  if (resolved.note) notes.unshift(resolved.note);
  if (method === 'plain' && src.selection && !resolved.downgraded)
    notes.unshift(`Selection ${src.selection.id} is not used: plain fine-tuning trains on the task data only (replay mixes it in).`);
  if (method === 'replay' && safety === 0)
    notes.unshift(`replayRatio ${ratio} of ${examples.task} task examples rounds to no safety example: the recipe trains on the task data only.`);

  const config =
    p.tool === 'llamafactory'
      ? [
          { name: LLAMAFACTORY_YAML, text: llamaFactoryYaml(p, src.runName) },
          { name: DATASET_INFO_FILE, text: json(datasetInfo()) },
        ]
      : [{ name: AXOLOTL_YAML, text: axolotlYaml(p, src.runName) }];
  const format: MixFormat = p.tool === 'axolotl' && axolotlDataFormat(p) === 'chat' ? 'chat' : 'alpaca';
  const readme = recipeReadme({
    params: p,
    runName: src.runName,
    method,
    methodNote: resolved.note,
    project: `project ${src.project.id} (${src.project.name})`,
    selection: src.selection ? `selection ${src.selection.id} "${src.selection.name}"` : null,
    examples,
    notes,
    createdAt: src.createdAt ?? new Date().toISOString(),
  });
  return {
    tool: p.tool,
    method,
    requestedMethod: p.method,
    downgraded: resolved.downgraded,
    examples,
    launch: launchCommand(p.tool),
    notes,
    files: [
      ...config,
      { name: MIX_FILE, rows, format },
      { name: deepspeedFile(2), text: json(deepspeedConfig(2)) },
      { name: deepspeedFile(3), text: json(deepspeedConfig(3)) },
      { name: README_FILE, text: readme },
    ],
  };
}

/** Writes the recipe's files into `folder` (which must exist), never over an existing file; returns their names. */
export async function writeRecipe(folder: string, recipe: Recipe): Promise<string[]> {
  for (const f of recipe.files) {
    const path = join(folder, f.name);
    if ('text' in f) {
      writeFileSync(path, f.text, { flag: 'wx' });
      continue;
    }
    const out = createWriteStream(path, { flags: 'wx', encoding: 'utf8' });
    const failed = once(out, 'error').then(([e]) => {
      throw e;
    });
    failed.catch(() => {});
    for (const r of f.rows) if (!out.write(toJsonlLine(r, f.format) + '\n')) await Promise.race([once(out, 'drain'), failed]);
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  }
  return recipe.files.map((f) => f.name);
}
