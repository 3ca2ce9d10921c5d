/**
 * One way a model enters the Models list: registerModel, which the model.inspect job and a full
 * training run call (the miniature replication queues model.inspect). Registering the tiny Llama
 * fixture gives its row; and no other module of src/main writes Models-list rows or reads a model
 * to register it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/main/db/database';
import { ModelStore } from '../../../src/main/db/models';
import { registerModel } from '../../../src/main/jobs/registerModel';
import { tempDir } from '../../helpers/services';
import { repoRoot } from '../../helpers/shared';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('registerModel', () => {
  it('adds a model folder to the Models list, once however often it is registered', async () => {
    const t = tempDir();
    const { db } = openDatabase(join(t.dir, 'safetune.db'));
    cleanups.push(t.cleanup, () => db.close());
    const path = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
    const m = await registerModel(db, path);
    expect(m).toMatchObject({ path, info: { architecture: 'llama', format: 'hf' } });
    expect((await registerModel(db, path)).id).toBe(m.id);
    expect(new ModelStore(db).list().map((x) => x.path)).toEqual([path]);
  });

  it('is the only code that registers a model', () => {
    const main = join(repoRoot, 'src', 'main');
    const writers = sources(main)
      .filter((f) => !f.includes(`${join('src', 'main', 'db')}`))
      .filter((f) => /models\.upsert\(|ModelStore\([^)]*\)\.upsert\(|modelInfo\(loadModel\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(repoRoot, f));
    // the CLI's `model info` reads a model to print it, not to register it
    expect(writers.sort()).toEqual(['src/main/cli/commands/model.ts', 'src/main/jobs/registerModel.ts']);
  });
});
