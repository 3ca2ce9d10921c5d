import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { AppError } from '../../shared/errors';
import type { z } from 'zod';
import type { ExportParams } from '../../shared/select';
import { buildTrainingMix, writeJsonl } from '../select/export';
import type { Services } from './services';

/** Writes the training mix (task data + a selection) as JSONL in Alpaca or chat format. */
export async function exportTrainingMix(s: Services, p: z.output<typeof ExportParams>) {
  const sel = s.selections.get(p.selectionId);
  const safety = s.selections.items(sel.id).map((i) => ({ prompt: i.prompt, response: i.response }));
  const task = s.datasets.roleRecords(sel.projectId, 'task', p.taskDatasetIds).map((r) => ({ prompt: r.prompt, response: r.response }));
  const mix = buildTrainingMix(task, safety, { seed: p.seed });
  const safeName = sel.name.replace(/[^\w.-]+/g, '_');
  const path = p.path ?? join(s.workspace, 'exports', `project-${sel.projectId}-${safeName}-${sel.id}.${p.format}.jsonl`);
  if (!isAbsolute(path)) throw new AppError('invalid_input', `export path must be absolute: ${path}`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const count = await writeJsonl(path, mix, p.format);
    return { path, count, task: task.length, safety: safety.length };
  } catch (e) {
    throw new AppError('invalid_input', `Cannot write ${path}: ${(e as Error).message}`);
  }
}
