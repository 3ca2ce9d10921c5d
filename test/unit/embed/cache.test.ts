import { afterEach, describe, expect, it } from 'vitest';
import { embeddingMap } from '../../../src/main/app/embeddingMap';
import { openDatabase } from '../../../src/main/db/database';
import { DatasetStore } from '../../../src/main/db/datasets';
import { EmbeddingStore } from '../../../src/main/db/embeddings';
import { embedCached, textHash, type EmbeddingCache } from '../../../src/main/embed/cache';
import type { Embedder } from '../../../src/main/embed/types';
import { tempDir, testServices } from '../../helpers/services';

/** A deterministic 3-d embedder that counts the texts it embeds. */
function countingEmbedder(id = 'test-3d'): Embedder & { embedded: string[] } {
  const embedded: string[] = [];
  return {
    id,
    dimension: 3,
    embedded,
    async embedBatch(texts) {
      embedded.push(...texts);
      const m = new Float32Array(texts.length * 3);
      texts.forEach((t, i) => m.set([t.length, t.charCodeAt(0) || 0, i + 1], i * 3));
      return m;
    },
  };
}

/** An in-memory cache: the embed core needs nothing more. */
function mapCache(): EmbeddingCache & { entries: Map<string, Float32Array> } {
  const entries = new Map<string, Float32Array>();
  return {
    entries,
    get: (id, hash) => entries.get(`${id}:${hash}`),
    put: (id, list) => list.forEach(({ textHash: h, vector }) => entries.set(`${id}:${h}`, vector.slice())),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('embedCached', () => {
  it('embeds through any cache it is handed: what was embedded before is read back, never recomputed', async () => {
    const cache = mapCache();
    const e = countingEmbedder();
    const first = await embedCached(cache, e, ['alpha', 'beta'], { batchSize: 1 });
    expect(first.computed).toBe(2);
    expect(cache.entries.size).toBe(2);
    const again = await embedCached(cache, e, ['beta', 'alpha', 'gamma']);
    expect(again.computed).toBe(1);
    expect(e.embedded).toEqual(['alpha', 'beta', 'gamma']);
    const row = (m: Float32Array, i: number) => Array.from(m.subarray(i * 3, i * 3 + 3));
    expect([row(again.matrix, 0), row(again.matrix, 1)]).toEqual([row(first.matrix, 1), row(first.matrix, 0)]);
  });

  it('recomputes a cached vector of another dimension and reports progress to the end', async () => {
    const cache = mapCache();
    cache.put('test-3d', [{ textHash: textHash('x'), vector: new Float32Array([1, 2]) }]);
    const progress: number[] = [];
    const r = await embedCached(cache, countingEmbedder(), ['x'], { onProgress: (done) => progress.push(done) });
    expect(r.computed).toBe(1);
    expect(cache.entries.get(`test-3d:${textHash('x')}`)).toHaveLength(3);
    expect(progress.at(-1)).toBe(1);
  });
});

describe('EmbeddingStore (the workspace cache)', () => {
  it('stores and reads back vectors per embedder and text hash, replacing on the same key', async () => {
    const { db } = openDatabase(':memory:');
    cleanups.push(() => void db.close());
    const store = new EmbeddingStore(db);
    expect(store.get('e', 'h')).toBeUndefined();
    store.put('e', [{ textHash: 'h', vector: new Float32Array([0.5, -1, 2]) }]);
    expect(Array.from(store.get('e', 'h')!)).toEqual([0.5, -1, 2]);
    expect(store.get('other', 'h')).toBeUndefined();
    store.put('e', [{ textHash: 'h', vector: new Float32Array([3, 4]) }]);
    expect(Array.from(store.get('e', 'h')!)).toEqual([3, 4]);

    const e = countingEmbedder();
    await embedCached(store, e, ['one', 'two']);
    const r = await embedCached(new EmbeddingStore(db), e, ['two', 'one']);
    expect(r.computed).toBe(0);
    expect(e.embedded).toEqual(['one', 'two']);
  });

  it('feeds the embedding map of a data set from the stored vectors', async () => {
    const t = tempDir();
    const s = testServices(t.dir, { runJobs: false });
    cleanups.push(t.cleanup, () => s.close());
    const projectId = s.projects.create('map').id;
    const ds = s.datasets.create({ projectId, role: 'safety_pool', name: 'pool', sourcePath: '/x', fileDigest: 'd', sizeBytes: 1, jobId: null });
    const prompts = ['how to pick a lock', 'write a poem', 'make a weapon'];
    s.datasets.insertRecords(
      ds.id,
      projectId,
      prompts.map((prompt, i) => ({
        sourceRow: i + 1,
        sourceLine: i + 1,
        prompt,
        response: 'r',
        contentHash: `c${i}`,
        categories: i === 1 ? [] : ['violence'],
        labels: {},
      })),
    );
    expect(() => embeddingMap(s, ds.id, 10)).toThrow(/no embeddings yet/);
    s.datasets.setEmbedder(ds.id, 'test-3d');
    expect(() => embeddingMap(s, ds.id, 10)).toThrow(/No cached embeddings/);
    await embedCached(s.embeddings, countingEmbedder(), prompts.slice(0, 2));
    const map = embeddingMap(s, ds.id, 10);
    expect(map.total).toBe(3);
    expect(map.points.map((p) => [p.text, p.categories])).toEqual([
      ['how to pick a lock', ['violence']],
      ['write a poem', []],
    ]);
    expect(new DatasetStore(s.db).behaviourCounts(ds.id)).toEqual({ untyped: 3 });
  });
});
