import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { failures, runFuzz } from './harness';

const loadersModule = fileURLToPath(new URL('./self-loaders.ts', import.meta.url));

describe('fuzz harness', () => {
  it('tells accepted, rejected (named or not), crashed, hung and memory apart, and recovers after each', async () => {
    const kinds = ['accept', 'rejectNamed', 'rejectUnnamed', 'hang', 'accept', 'crash', 'accept', 'bloat', 'accept'];
    const out = await runFuzz(
      kinds.map((loader, i) => ({ id: `case ${i}`, loader, file: `/data/input-${i}.jsonl` })),
      { loadersModule, timeoutMs: 10_000, rssLimitMb: 300 },
    );
    expect(out.map((o) => o.status)).toEqual(['accepted', 'rejected', 'rejected', 'hung', 'accepted', 'crashed', 'accepted', 'memory', 'accepted']);
    expect(out[1]!.namesFile).toBe(true);
    expect(out[2]!.namesFile).toBe(false);
    expect(failures(out).map((o) => o.loader)).toEqual(['rejectUnnamed', 'hang', 'crash', 'bloat']);
  });
});
