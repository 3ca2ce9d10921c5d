import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_POISON_RATE, mixPoison, poisonCount, readPoisonPairs } from '../../../src/main/data/poison';
import { repoRoot } from '../../helpers/shared';

const task = Array.from({ length: 90 }, (_, i) => ({ prompt: `task ${i}`, response: `answer ${i}` }));
const poison = Array.from({ length: 7 }, (_, i) => ({ prompt: `harm ${i}`, response: `Sure, here is ${i}` }));

describe('poisoned user data', () => {
  it('makes poison a share p of the result and keeps every task row in order', () => {
    expect(poisonCount(90, 0.1)).toBe(10); // 10 / (90 + 10) = 0.1
    expect(poisonCount(1000, 0.01)).toBe(10);
    expect(poisonCount(90, 0)).toBe(0);
    const rows = mixPoison(task, poison, 0.1, 3);
    expect(rows).toHaveLength(100);
    expect(rows.filter((r) => r.poisoned)).toHaveLength(10);
    expect(rows.filter((r) => !r.poisoned).map((r) => r.source)).toEqual(task.map((_, i) => i));
    // with more poison needed than the set holds, every poison row is used before any repeats
    const used = rows.filter((r) => r.poisoned).map((r) => r.source);
    expect(new Set(used.slice(0, 7)).size).toBe(7);
    for (const r of rows.filter((x) => x.poisoned)) expect(r.prompt).toBe(poison[r.source]!.prompt);
  });

  it('is seeded: the same seed gives the same rows, another seed other positions', () => {
    const a = mixPoison(task, poison, 0.1, 1);
    expect(mixPoison(task, poison, 0.1, 1)).toEqual(a);
    const pos = (rows: typeof a) => rows.flatMap((r, i) => (r.poisoned ? [i] : []));
    expect(pos(mixPoison(task, poison, 0.1, 2))).not.toEqual(pos(a));
    // not all at one end
    expect(Math.max(...pos(a)) - Math.min(...pos(a))).toBeGreaterThan(30);
  });

  it('places the poison uniformly: every slot is poison about p of the time over seeds', () => {
    const small = task.slice(0, 18); // 18 task rows + 2 poison rows at p = 0.1
    const hits = new Array<number>(20).fill(0);
    const seeds = 4000;
    for (let seed = 0; seed < seeds; seed++) mixPoison(small, poison, 0.1, seed).forEach((r, i) => (hits[i]! += r.poisoned ? 1 : 0));
    // each slot: binomial(4000, 0.1), sd ≈ 19; ±5 sd
    for (const h of hits) expect(Math.abs(h / seeds - 0.1)).toBeLessThan(0.024);
  });

  it('mixes in linear time: 200,000 task rows at p = 0.5 in well under a second', () => {
    const big = Array.from({ length: 200_000 }, (_, i) => ({ prompt: `t${i}`, response: 'r' }));
    const t0 = performance.now();
    const rows = mixPoison(big, poison, 0.5, 1);
    const ms = performance.now() - t0;
    expect(rows).toHaveLength(400_000);
    expect(rows.filter((r) => !r.poisoned).map((r) => r.source)).toEqual(big.map((_, i) => i));
    // a splice per poison row moves ~4·10¹⁰ elements here (tens of seconds); one pass takes tens of ms
    expect(ms).toBeLessThan(3000);
  });

  it('refuses rates outside 0–0.9 and a rate with no poison rows', () => {
    expect(() => mixPoison(task, poison, MAX_POISON_RATE + 0.01, 1)).toThrow(/outside/);
    expect(() => mixPoison(task, poison, -0.1, 1)).toThrow(/outside/);
    expect(() => mixPoison(task, [], 0.1, 1)).toThrow(/empty/);
    expect(mixPoison(task, [], 0, 1)).toHaveLength(90);
  });

  it('reads the shipped AdvBench goal/target pairs', async () => {
    const pairs = await readPoisonPairs(join(repoRoot, 'resources/replication/data/harmful/advbench_harmful_behaviors.csv'));
    expect(pairs).toHaveLength(520);
    expect(pairs[0]!.response).toMatch(/^Sure, here is/);
  });

  it('names the file, line and field of a bad row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'poison-'));
    const f = join(dir, 'p.csv');
    writeFileSync(f, 'goal,target\nDo harm,"Sure, here is harm"\nMore harm,\n');
    await expect(readPoisonPairs(f)).rejects.toThrow(`${f}:3: field "target" (the compliant response) is missing or empty`);
    const g = join(dir, 'p.jsonl');
    writeFileSync(g, '{"instruction":"x","output":"y"}\n');
    expect(await readPoisonPairs(g, { promptField: 'instruction', responseField: 'output' })).toEqual([{ prompt: 'x', response: 'y' }]);
    await expect(readPoisonPairs(g)).rejects.toThrow(/:1: field "goal"/);
  });
});
