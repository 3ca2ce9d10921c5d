import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { AppError } from '../../shared/errors';
import type { RecipeParams, RecipeResult } from '../../shared/recipes';
import { claimNewFolder, exportsFolder, safeStem } from '../util/newFiles';
import { trainingRecords } from '../jobs/types/trainExamples';
import { buildRecipe, writeRecipe } from '../recipes';
import type { Services } from './services';

/**
 * Writes a LLaMA-Factory or Axolotl recipe for a run's settings (task data + the saved selection,
 * the examples the trainer would see) into a new folder of the workspace's exports/, named after
 * the tool, project and run (a numeric suffix when taken: an export never overwrites). Nothing is
 * written when the recipe is refused (a method the tool lacks, no task data); a failed write
 * removes the folder it created.
 */
export async function exportRecipe(s: Services, p: RecipeParams): Promise<RecipeResult> {
  const project = s.projects.get(p.projectId);
  const selection = p.selectionId !== undefined ? s.selections.get(p.selectionId) : null;
  if (selection && selection.projectId !== project.id)
    throw new AppError('invalid_input', `selection ${selection.id} belongs to project ${selection.projectId}, not ${project.id}`, { field: 'selectionId' });
  const { task, safety } = trainingRecords(s.db, p);
  const stem = safeStem(`${p.tool}-${p.name ?? `project-${project.id}-${p.method}`}`, `${p.tool}-recipe`);
  // Built before the folder is claimed, so a refused recipe leaves nothing behind.
  const draft = {
    params: p,
    project: { id: project.id, name: project.name },
    selection: selection && { id: selection.id, name: selection.name },
    task,
    safety,
  };
  buildRecipe({ ...draft, runName: stem });
  const folder = claimNewFolder(exportsFolder(s.workspace), stem);
  try {
    const recipe = buildRecipe({ ...draft, runName: basename(folder) });
    const files = await writeRecipe(folder, recipe);
    const { files: _contents, ...rest } = recipe;
    return { ...rest, folder, files };
  } catch (e) {
    rmSync(folder, { recursive: true, force: true });
    if (e instanceof AppError) throw e;
    throw new AppError('invalid_input', `Cannot write the recipe into ${folder}: ${(e as Error).message}`, { path: folder });
  }
}
