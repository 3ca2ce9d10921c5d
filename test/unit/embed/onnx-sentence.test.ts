import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSentenceEmbedder, externalDataLocations, supportedBackends } from '../../../src/main/embed/onnxSentence';
import { ort } from '../../../src/main/engine/graph';
import { buildTinyBertFolder } from '../../fixtures/embed/tiny-bert';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';
import { readFileSync } from 'node:fs';

const tokDir = sharedPath('models', 'all-MiniLM-L6-v2-tokenizer');
const dir = mkdtempSync(join(tmpdir(), 'safetune-onnx-embed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!tokDir)(`ONNX sentence-transformers embedder ${tokDir ? '' : SHARED_MISSING}`, () => {
  let meanDir: string;
  let clsDir: string;
  beforeAll(() => {
    meanDir = buildTinyBertFolder(join(dir, 'tiny-mean'), tokDir!, { pooling: 'mean' });
    clsDir = buildTinyBertFolder(join(dir, 'tiny-cls'), tokDir!, { pooling: 'cls', tokenTypes: false });
  });

  it('loads the folder, reports the execution provider, embeds normalised rows', async () => {
    const e = await OnnxSentenceEmbedder.load(meanDir, { batchSize: 3 });
    try {
      expect(supportedBackends()).toContain('cpu');
      // The provider used is supported; every preferred one before it failed or is missing, with a reason.
      const supported = supportedBackends();
      expect(supported).toContain(e.executionProvider);
      const prefs = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];
      for (const p of prefs.slice(0, prefs.indexOf(e.executionProvider))) expect(e.providerErrors[p]).toEqual(expect.any(String));
      expect(e.dimension).toBe(32);
      expect(e.pooling).toBe('mean');
      expect(e.maxLength).toBe(128);
      expect(e.id).toMatch(/^onnx:tiny-mean@[0-9a-f]{12}:mean:len128$/);
      const texts = ['short', 'a somewhat longer sentence about cakes and ovens', 'mid length text here', 'x'];
      const m = await e.embedBatch(texts);
      expect(m.length).toBe(4 * 32);
      for (let r = 0; r < 4; r++) {
        let s = 0;
        for (let j = 0; j < 32; j++) s += m[r * 32 + j]! ** 2;
        expect(s).toBeCloseTo(1, 5);
      }
      // Length-sorted batching and padding must not change a text's embedding.
      for (let r = 0; r < 4; r++) {
        const alone = await e.embedBatch([texts[r]!]);
        for (let j = 0; j < 32; j++) expect(alone[j]).toBeCloseTo(m[r * 32 + j]!, 4);
      }
    } finally {
      await e.dispose();
    }
  });

  it('mean pooling equals a by-hand mean over the unpadded tokens', async () => {
    const e = await OnnxSentenceEmbedder.load(meanDir);
    const session = await ort.InferenceSession.create(join(meanDir, 'model.onnx'));
    try {
      const tok = new Tokenizer(
        JSON.parse(readFileSync(join(meanDir, 'tokenizer.json'), 'utf8')),
        JSON.parse(readFileSync(join(meanDir, 'tokenizer_config.json'), 'utf8')),
      );
      const text = 'How can I kill a Python process?';
      const ids = tok.encode(text).ids;
      expect(ids[0]).toBe(101); // [CLS]
      const n = ids.length;
      const res = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
        token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
      });
      const h = res.last_hidden_state!.data as Float32Array;
      const mean = new Float32Array(32);
      for (let t = 0; t < n; t++) for (let j = 0; j < 32; j++) mean[j]! += h[t * 32 + j]! / n;
      const norm = Math.hypot(...mean);
      const got = await e.embedBatch([text, 'padding partner text that is a lot longer than the first one']);
      for (let j = 0; j < 32; j++) expect(got[j]).toBeCloseTo(mean[j]! / norm, 4);
    } finally {
      await e.dispose();
      await session.release();
    }
  });

  it('supports CLS pooling and models without token_type_ids; truncates long texts', async () => {
    const e = await OnnxSentenceEmbedder.load(clsDir, { maxLength: 8 });
    try {
      expect(e.pooling).toBe('cls');
      const long = 'word '.repeat(500);
      const m = await e.embedBatch([long, 'hi']);
      expect(m.length).toBe(64);
      expect(Number.isFinite(m[0])).toBe(true);
    } finally {
      await e.dispose();
    }
  });

  it('falls back to cpu when asked for providers this build lacks, saying why', async () => {
    const e = await OnnxSentenceEmbedder.load(meanDir, { executionProviders: ['dml', 'coreml', 'cpu'] });
    try {
      expect(e.executionProvider).toBe('cpu');
      expect(Object.keys(e.providerErrors)).toEqual(expect.arrayContaining(['dml', 'coreml']));
    } finally {
      await e.dispose();
    }
  });

  it('fails clearly on a folder without a model', async () => {
    await expect(OnnxSentenceEmbedder.load(tokDir!)).rejects.toThrow(/no model\.onnx/);
  });
});

describe.skipIf(!tokDir)('ONNX embedder id', () => {
  it('is stable for the same files and changes with the weights', async () => {
    const a = buildTinyBertFolder(join(dir, 'id-a'), tokDir!, { seed: 5 });
    const b = buildTinyBertFolder(join(dir, 'id-b'), tokDir!, { seed: 5 });
    const c = buildTinyBertFolder(join(dir, 'id-c'), tokDir!, { seed: 6 });
    const ids: string[] = [];
    for (const d of [a, b, c]) {
      const e = await OnnxSentenceEmbedder.load(d);
      ids.push(e.id.replace(/^onnx:[^@]+@/, ''));
      await e.dispose();
    }
    expect(externalDataLocations(readFileSync(join(a, 'model.onnx'))).length).toBeGreaterThan(0);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });
});
