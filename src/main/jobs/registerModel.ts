/**
 * Adding a model to the Models list: its config, tokenizer and weight index read (not the weights),
 * the architecture and shapes checked, and what the list shows recorded. The one way a model is
 * registered: the `model.inspect` job (a model the user adds, a merge's output, the miniature
 * replication's shipped model) and a full-parameter training run's new model both call it.
 */
import type { ModelInfo, RegisteredModel } from '../../shared/models';
import type { Db } from '../db/database';
import { ModelStore } from '../db/models';

/** Loads the model's headers at `path` and adds (or updates) its row in the Models list. */
export async function registerModel(db: Db, path: string): Promise<RegisteredModel> {
  const { loadModel, modelInfo } = await import('../engine'); // the engine only when a model is read
  const info = (await modelInfo(loadModel(path))) as ModelInfo;
  return new ModelStore(db).upsert(path, info);
}
