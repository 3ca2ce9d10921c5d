import type { z } from 'zod';
import type { ExportParams } from '../../shared/select';
import { AppError } from '../../shared/errors';
import { claimNewFile, exportsFolder, safeStem } from '../util/newFiles';
import { buildTrainingMix, writeJsonl } from '../select/export';
import type { Services } from './services';

/**
 * Writes the training mix (task data + a selection) as JSONL in Alpaca or chat format, into a new
 * file of the workspace's exports/ folder named after the project, selection and format (a numeric
 * suffix when that name is taken: an export never overwrites). Returns where it went.
 */
export async function exportTrainingMix(s: Services, p: z.output<typeof ExportParams>) {
  const sel = s.selections.get(p.selectionId);
  const safety = s.selections.items(sel.id).map((i) => ({ prompt: i.prompt, response: i.response }));
  const task = s.datasets.roleRecords(sel.projectId, 'task', p.taskDatasetIds).map((r) => ({ prompt: r.prompt, response: r.response }));
  const mix = buildTrainingMix(task, safety, { seed: p.seed });
  const path = claimNewFile(exportsFolder(s.workspace), safeStem(`project-${sel.projectId}-selection-${sel.id}-${sel.name}`), `.${p.format}.jsonl`);
  try {
    const count = await writeJsonl(path, mix, p.format);
    return { path, count, task: task.length, safety: safety.length };
  } catch (e) {
    throw new AppError('invalid_input', `Cannot write ${path}: ${(e as Error).message}`, { path });
  }
}
