/**
 * The comparison side of the ONNX embedder benchmark: the same sentence-transformers ONNX folder
 * run by transformers.js (@huggingface/transformers, with its own onnxruntime-node). It is
 * installed on demand into bench/.cache/transformers-js — never a dependency of the app — and run
 * in a child process so the two onnxruntime builds never share one process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../test/helpers/shared';

const CACHE = join(repoRoot, 'bench', '.cache', 'transformers-js');
const PACKAGE = '@huggingface/transformers@4';

const CHILD = `
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, basename } from 'node:path';
import { pipeline, env } from '@huggingface/transformers';
const [dir, textsFile, outFile, batchSize] = process.argv.slice(2);
env.allowRemoteModels = false;
env.localModelPath = dirname(dir) + '/';
const texts = JSON.parse(readFileSync(textsFile, 'utf8'));
const fe = await pipeline('feature-extraction', basename(dir), { subfolder: '', dtype: 'fp32', device: 'cpu' });
const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
await fe(texts.slice(0, 64), { pooling: 'mean', normalize: true });
const t = performance.now();
for (let s = 0; s < order.length; s += Number(batchSize)) {
  await fe(order.slice(s, s + Number(batchSize)).map((i) => texts[i]), { pooling: 'mean', normalize: true });
}
const seconds = (performance.now() - t) / 1000;
const sample = await fe(texts.slice(0, 8), { pooling: 'mean', normalize: true });
const dim = sample.dims[1];
const rows = [...Array(8).keys()].map((r) => Array.from(sample.data.slice(r * dim, (r + 1) * dim)));
const version = JSON.parse(readFileSync(new URL('../node_modules/@huggingface/transformers/package.json', import.meta.url), 'utf8')).version;
writeFileSync(outFile, JSON.stringify({ seconds, rows, version }));
`;

export interface TransformersJsRun {
  seconds: number;
  /** Embeddings of the first 8 texts (to check both engines compute the same thing). */
  rows: number[][];
  version: string;
}

export function runTransformersJs(dir: string, texts: string[], batchSize: number): TransformersJsRun | { skipped: string } {
  mkdirSync(join(CACHE, 'run'), { recursive: true });
  if (!existsSync(join(CACHE, 'node_modules', '@huggingface', 'transformers'))) {
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', CACHE, PACKAGE], {
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' },
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) return { skipped: `could not install ${PACKAGE}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  }
  const script = join(CACHE, 'run', 'embed.mjs');
  writeFileSync(script, CHILD);
  const textsFile = join(CACHE, 'run', 'texts.json');
  const outFile = join(CACHE, 'run', 'out.json');
  writeFileSync(textsFile, JSON.stringify(texts));
  const r = spawnSync(process.execPath, [script, dir, textsFile, outFile, String(batchSize)], { encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) return { skipped: `transformers.js failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}` };
  return JSON.parse(readFileSync(outFile, 'utf8')) as TransformersJsRun;
}
