/**
 * Fuzz test of the data import: seeded mutations and hostile constructions of JSONL, JSON,
 * CSV/TSV and Parquet files (and gzip of each) run through the real import entry points
 * (data-loaders.ts) in the fuzz harness. For every case: no crash, no hang over 10 s, peak RSS
 * under 1 GB, and every rejected file's error names the file. A second, smaller set holds large
 * hostile files (hundreds of MB to 1 GB, mostly sparse) and is deleted afterwards; its time limit
 * is 10 s or four times a plain read of its largest file, whichever is longer.
 *
 * SAFETUNE_FUZZ_SEED picks another seed; SAFETUNE_FUZZ_REPORT=<file> writes every outcome as JSON.
 */
import { appendFileSync, createReadStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { largeCases, smallCases } from './data-cases';
import { type FuzzOutcome, failures, runFuzz, summarise } from './harness';

const loadersModule = fileURLToPath(new URL('./data-loaders.ts', import.meta.url));
const seed = Number(process.env.SAFETUNE_FUZZ_SEED ?? 12);
const work = mkdtempSync(join(tmpdir(), 'safetune-fuzz-data-'));
process.env.SAFETUNE_FUZZ_DB_DIR = work;
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = { loadersModule, timeoutMs: 10_000, rssLimitMb: 1024 };

function report(title: string, outcomes: FuzzOutcome[]): void {
  const byFormat = outcomes.map((o) => ({ ...o, loader: o.loader.split(':')[0]! }));
  const byKind = outcomes.map((o) => ({ ...o, loader: o.loader.split(':')[1]! }));
  const bad = failures(outcomes).map(
    (o) => `  ${o.loader} ${o.id}: ${o.status}${o.peakRssMb ? ` (${Math.round(o.peakRssMb)} MB)` : ''}: ${(o.message ?? '').slice(0, 200)}`,
  );
  const slowest = [...outcomes].sort((a, b) => b.ms - a.ms)[0];
  const peak = Math.max(...outcomes.map((o) => o.peakRssMb ?? 0));
  console.log(
    [
      `${title}: ${outcomes.length} cases (seed ${seed}); slowest ${slowest ? `${Math.round(slowest.ms)} ms (${slowest.loader} ${slowest.id})` : '-'}; peak RSS ${Math.round(peak)} MB`,
      summarise(byFormat),
      '',
      summarise(byKind),
      ...(bad.length ? ['', 'failures:', ...bad] : []),
    ].join('\n'),
  );
  if (process.env.SAFETUNE_FUZZ_REPORT) appendFileSync(process.env.SAFETUNE_FUZZ_REPORT, JSON.stringify({ title, outcomes }) + '\n');
}

describe('data import fuzz', () => {
  it('survives seeded mutations and hostile constructions of every container', async () => {
    const dir = join(work, 'small');
    mkdirSync(dir);
    const cases = smallCases(dir, seed);
    const outcomes = await runFuzz(cases, options);
    report('small files', outcomes);
    expect(failures(outcomes).map((o) => `${o.loader} ${o.id}: ${o.status}: ${o.message}`)).toEqual([]);
    // The valid files import: the fuzz is not passing because everything is rejected.
    for (const o of outcomes.filter((x) => x.id.startsWith('valid.') && !x.id.startsWith('valid.parquet.gz')))
      expect(o, `${o.loader} ${o.id}`).toMatchObject({ status: 'accepted' });
  }, 600_000);

  it('reads large hostile files (hundreds of MB, sparse) in bounded memory and time', async () => {
    const dir = join(work, 'large');
    mkdirSync(dir);
    try {
      const cases = await largeCases(dir);
      // The time limit covers the readers, not the disk: reading the largest file once (which also
      // warms the page cache) sets the bound when that alone is slow on a busy machine.
      let slowestRead = 0;
      for (const f of new Set(cases.map((c) => c.file))) {
        const t = performance.now();
        for await (const _ of createReadStream(f, { highWaterMark: 1 << 20 }));
        slowestRead = Math.max(slowestRead, performance.now() - t);
      }
      const timeoutMs = Math.max(options.timeoutMs, Math.ceil(4 * slowestRead));
      console.log(`large files: slowest plain read ${Math.round(slowestRead)} ms, time limit ${timeoutMs} ms`);
      const outcomes = await runFuzz(cases, { ...options, timeoutMs });
      report('large files', outcomes);
      for (const o of outcomes)
        console.log(`  ${o.loader} ${o.id}: ${o.status} in ${Math.round(o.ms)} ms, peak RSS ${o.peakRssMb === null ? '?' : Math.round(o.peakRssMb)} MB`);
      expect(failures(outcomes).map((o) => `${o.loader} ${o.id}: ${o.status}: ${o.message}`)).toEqual([]);
      // The giant row is skipped and the import goes on: these files import (with that row rejected).
      expect(outcomes.map((o) => `${o.loader} ${o.id}: ${o.status}`)).toEqual(cases.map((c) => `${c.loader} ${c.id}: ${c.expect}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
