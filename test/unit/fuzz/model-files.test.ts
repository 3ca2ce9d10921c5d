/**
 * Fuzzes the model-file readers (GGUF, safetensors, config.json, tokenizer.json, the GGUF
 * SentencePiece tokenizer, model info and the train estimate) with seeded mutations and hostile
 * constructions. Every case must end without a crash, within 10 s and under the memory bound, and
 * every rejection must name the file it rejects.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, sharedPath } from '../../helpers/shared';
import { failures, runFuzz, summarise } from './harness';
import { buildModelCases } from './model-cases';

const SEED = Number(process.env.SAFETUNE_FUZZ_SEED ?? 20250612);
const MUTATIONS = Number(process.env.SAFETUNE_FUZZ_MUTATIONS ?? 40);
const RSS_LIMIT_MB = 600;
/** SAFETUNE_FUZZ_DUMP=file.json writes every outcome there (to compare runs). */
const DUMP = process.env.SAFETUNE_FUZZ_DUMP;

const dir = mkdtempSync(join(tmpdir(), 'fuzz-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('model-file fuzz', () => {
  it(`rejects damaged and hostile model files by name, without a crash, a hang or a memory blow-up (seed ${SEED})`, async () => {
    const stories = sharedPath('models', 'stories260K.gguf');
    const miniLm = sharedPath('models', 'all-MiniLM-L6-v2-tokenizer');
    if (!stories || !miniLm) console.log('fuzz: ../shared is not present — using the tiny fixtures and generated files only');
    const cases = buildModelCases(dir, { stories, miniLm, hfFixtures: join(repoRoot, 'test', 'fixtures', 'engine', 'hf') }, SEED, MUTATIONS);
    const out = await runFuzz(cases, {
      loadersModule: fileURLToPath(new URL('./model-loaders.ts', import.meta.url)),
      timeoutMs: 10_000,
      rssLimitMb: RSS_LIMIT_MB,
      heapMb: 1024,
    });
    console.log(`${summarise(out)}\n(${out.length} cases, seed ${SEED}, peak RSS ${Math.round(Math.max(...out.map((o) => o.peakRssMb ?? 0)))} MB)`);
    if (DUMP)
      writeFileSync(
        DUMP,
        JSON.stringify(
          out.map(({ file: _file, ...o }) => o),
          null,
          1,
        ),
      );
    const bad = failures(out);
    for (const o of bad)
      console.log(`FAIL ${o.loader} [${o.id}] ${o.status} ${o.ms | 0} ms ${o.peakRssMb ? `${o.peakRssMb | 0} MB` : ''}: ${o.message?.slice(0, 300)}`);
    expect(bad.map((o) => `${o.loader} [${o.id}] ${o.status}: ${o.message?.slice(0, 200)}`)).toEqual([]);
    // the seeds themselves still load
    const seeds = out.filter((o) => o.id.startsWith('seed') || o.id.endsWith(': seed'));
    expect(seeds.length).toBeGreaterThan(5);
    expect(seeds.filter((o) => o.status !== 'accepted').map((o) => `${o.loader} [${o.id}]: ${o.message}`)).toEqual([]);
  }, 600_000);
});
