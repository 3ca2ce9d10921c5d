import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { l2NormaliseRows } from '../../../src/main/embed/types';
import {
  type SelectionPool,
  type SelectionResult,
  budgetCount,
  buildTrainingMix,
  mulberry32,
  select,
  selectCossim,
  selectPSS,
  selectRandom,
  selectAsync,
  selectSSS,
  toJsonlLine,
  writeJsonl,
} from '../../../src/main/select';

const CATS = ['a', 'b', 'c', 'd'];

/** Single-label pool: category sizes given; behaviour cycles T1,T1,T2,T3,T4 by index. */
function makePool(sizes: number[], dim = 8, seed = 1): SelectionPool {
  const n = sizes.reduce((s, x) => s + x, 0);
  const labels = new Uint32Array(n);
  const behaviour = new Uint8Array(n);
  const rng = mulberry32(seed);
  const emb = new Float32Array(n * dim);
  let i = 0;
  sizes.forEach((sz, c) => {
    for (let t = 0; t < sz; t++, i++) {
      labels[i] = 1 << c;
      behaviour[i] = [1, 1, 2, 3, 4][i % 5]!;
      for (let j = 0; j < dim; j++) emb[i * dim + j] = (j === c ? 3 : 0) + rng() - 0.5;
    }
  });
  return { size: n, categories: CATS, labels, behaviour, embeddings: l2NormaliseRows(emb, dim), dim };
}

function checkBasics(r: SelectionResult, pool: SelectionPool) {
  const set = new Set(r.indices);
  expect(set.size).toBe(r.indices.length); // no duplicates
  for (const i of r.indices) expect(i >= 0 && i < pool.size).toBe(true);
  expect(r.indices.length + r.shortfall).toBe(r.budget);
  expect(r.items.map((x) => x.index)).toEqual(Array.from(r.indices));
}

const strataCounts = (r: SelectionResult) => {
  const m: Record<string, number> = {};
  for (const it of r.items) if (it.phase === 'stratum') m[it.category!] = (m[it.category!] ?? 0) + 1;
  return m;
};

describe('budget and PRNG', () => {
  it('turns counts and fractions of the task size into counts', () => {
    expect(budgetCount({ count: 10 })).toBe(10);
    expect(budgetCount({ fraction: 0.0005, taskSize: 20_000 })).toBe(10);
    expect(budgetCount({ fraction: 0.03, taskSize: 999 })).toBe(30);
    expect(() => budgetCount({ count: -1 })).toThrow(/invalid budget/);
  });
  it('mulberry32 is deterministic and roughly uniform', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
});

describe('Random', () => {
  const pool = makePool([20, 30, 40, 50]);
  it('draws N distinct records, deterministically per seed', () => {
    const r = selectRandom(pool, { budget: { count: 25 }, seed: 3 });
    checkBasics(r, pool);
    expect(r.indices.length).toBe(25);
    expect(selectRandom(pool, { budget: { count: 25 }, seed: 3 }).indices).toEqual(r.indices);
    expect(selectRandom(pool, { budget: { count: 25 }, seed: 4 }).indices).not.toEqual(r.indices);
    expect(r.items.every((x) => x.phase === 'fill')).toBe(true);
  });
  it('is uniform: every record is picked about equally often', () => {
    const small = makePool([5, 5, 0, 0]);
    const hits = new Array(10).fill(0);
    for (let s = 0; s < 4000; s++) for (const i of selectRandom(small, { budget: { count: 3 }, seed: s }).indices) hits[i]++;
    for (const h of hits) expect(Math.abs(h - 1200)).toBeLessThan(150);
  });
  it('returns the whole pool when the budget is larger, and respects a category subset', () => {
    const r = selectRandom(pool, { budget: { count: 1000 } });
    expect(r.indices.length).toBe(140);
    expect(r.shortfall).toBe(860);
    const c = selectRandom(pool, { budget: { count: 1000 }, categories: ['a', 'c'] });
    expect(c.indices.length).toBe(60);
    expect(c.perCategory).toEqual({ a: 20, b: 0, c: 40, d: 0 });
  });
});

describe('SSS', () => {
  const pool = makePool([3, 50, 30, 100]);
  it('takes k = floor(N / #categories) per category, smallest first, all of a small one, then fills', () => {
    const r = selectSSS(pool, { budget: { count: 42 }, seed: 1 });
    checkBasics(r, pool);
    expect(r.perStratum).toBe(10);
    expect(r.strata).toEqual(['a', 'c', 'b', 'd']);
    expect(strataCounts(r)).toEqual({ a: 3, c: 10, b: 10, d: 10 });
    expect(r.items.filter((x) => x.phase === 'fill').length).toBe(9);
    expect(r.indices.length).toBe(42);
    // Stratum picks carry their category.
    for (const it of r.items) if (it.phase === 'stratum') expect(pool.labels[it.index]! & (1 << CATS.indexOf(it.category!))).toBeTruthy();
  });
  it('is deterministic and seed-dependent', () => {
    const a = selectSSS(pool, { budget: { count: 20 }, seed: 9 });
    expect(selectSSS(pool, { budget: { count: 20 }, seed: 9 })).toEqual(a);
    expect(selectSSS(pool, { budget: { count: 20 }, seed: 10 }).indices).not.toEqual(a.indices);
  });
  it('never picks a multi-label record twice', () => {
    const multi: SelectionPool = { ...pool, labels: pool.labels.map((l, i) => (i % 2 ? 0b1111 : l)) };
    for (let s = 0; s < 20; s++) checkBasics(selectSSS(multi, { budget: { count: 60 }, seed: s }), multi);
  });
  it('SSS-B uses only T1 records', () => {
    const r = select(pool, { method: 'sss-b', budget: { count: 30 }, seed: 2 });
    checkBasics(r, pool);
    expect(r.method).toBe('sss-b');
    expect(r.eligible).toBe(Array.from(pool.behaviour!).filter((b) => b === 1).length);
    for (const i of r.indices) expect(pool.behaviour![i]).toBe(1);
    expect(() => selectSSS({ ...pool, behaviour: undefined }, { budget: { count: 3 }, t1Only: true })).toThrow(/behaviour types/);
  });
  it('handles budgets larger than the pool and zero budgets', () => {
    const r = selectSSS(pool, { budget: { count: 500 } });
    expect(r.indices.length).toBe(183);
    expect(r.shortfall).toBe(317);
    expect(selectSSS(pool, { budget: { count: 0 } }).indices.length).toBe(0);
  });
  it('stratifies over a chosen category subset only', () => {
    const r = selectSSS(pool, { budget: { count: 20 }, categories: ['b', 'd'], seed: 5 });
    expect(r.strata).toEqual(['b', 'd']);
    expect(r.perCategory.a).toBe(0);
    expect(r.perCategory.c).toBe(0);
    expect(strataCounts(r)).toEqual({ b: 10, d: 10 });
    expect(() => selectSSS(pool, { budget: { count: 2 }, categories: ['zz'] })).toThrow(/unknown category "zz"/);
  });
});

describe('PSS', () => {
  it('takes the members closest to their category prototype', () => {
    const pool = makePool([10, 12, 14, 16], 8, 7);
    const r = selectPSS(pool, { budget: { count: 8 }, seed: 1 });
    checkBasics(r, pool);
    expect(strataCounts(r)).toEqual({ a: 2, b: 2, c: 2, d: 2 });
    // Brute force: per category, cosine to the mean of its members; expect the top 2.
    const d = pool.dim!;
    const e = pool.embeddings!;
    for (let c = 0; c < 4; c++) {
      const mem = Array.from({ length: pool.size }, (_, i) => i).filter((i) => pool.labels[i] === 1 << c);
      const mean = new Array(d).fill(0);
      for (const i of mem) for (let j = 0; j < d; j++) mean[j] += e[i * d + j]! / mem.length;
      const norm = Math.hypot(...mean);
      const cos = (i: number) => mean.reduce((s, m, j) => s + m * e[i * d + j]!, 0) / norm;
      const top = [...mem].sort((x, y) => cos(y) - cos(x)).slice(0, 2);
      const got = r.items.filter((x) => x.category === CATS[c]);
      expect(got.map((x) => x.index).sort()).toEqual(top.sort());
      for (const it of got) expect(it.score).toBeCloseTo(cos(it.index), 4);
    }
  });
  it('selectAsync (onnxruntime prototypes and scores) selects the same records', async () => {
    const pool = makePool([10, 12, 14, 16], 8, 7);
    const multi: SelectionPool = { ...pool, labels: pool.labels.map((l, i) => (i % 3 ? l : l | 0b0101)) };
    for (const method of ['pss', 'pss-b'] as const) {
      for (const categories of [undefined, ['a', 'c']]) {
        const opts = { method, budget: { count: 11 }, seed: 4, ...(categories ? { categories } : {}) };
        const a = await selectAsync(multi, opts);
        const b = select(multi, opts);
        expect(a.indices).toEqual(b.indices);
        a.items.forEach((it, k) => (it.score === null ? expect(b.items[k]!.score).toBeNull() : expect(it.score).toBeCloseTo(b.items[k]!.score!, 4)));
      }
    }
  });
  it('PSS-B builds prototypes from T1 members and picks only T1', () => {
    const pool = makePool([10, 12, 14, 16]);
    const r = select(pool, { method: 'pss-b', budget: { count: 12 } });
    for (const i of r.indices) expect(pool.behaviour![i]).toBe(1);
    expect(r.indices.length).toBe(12);
    expect(() => selectPSS({ ...pool, embeddings: undefined }, { budget: { count: 1 } })).toThrow(/needs embeddings/);
  });
});

describe('Cossim', () => {
  const pool = makePool([10, 20, 30, 40], 8, 11);
  // Reference centroids: category c's references lie along axis c.
  const centroids = new Float32Array(4 * 8);
  for (let c = 0; c < 4; c++) centroids[c * 8 + c] = 0.8;
  const d = 8;
  const score = (i: number, c: number) => pool.embeddings![i * d + c]! * 0.8;

  it('takes the top max(1, floor(N/#categories)) per category by mean cosine, then fills by max score', () => {
    const r = selectCossim(pool, { budget: { count: 10 }, reference: { kind: 'categories', centroids } });
    checkBasics(r, pool);
    expect(r.perStratum).toBe(2);
    expect(r.strata).toEqual(CATS);
    const all = Array.from({ length: pool.size }, (_, i) => i);
    const chosen = new Set<number>();
    for (let c = 0; c < 4; c++) {
      const top = all
        .filter((i) => !chosen.has(i))
        .sort((x, y) => score(y, c) - score(x, c))
        .slice(0, 2);
      top.forEach((i) => chosen.add(i));
      expect(r.items.filter((x) => x.category === CATS[c]).map((x) => x.index)).toEqual(top);
    }
    const best = (i: number) => Math.max(...[0, 1, 2, 3].map((c) => score(i, c)));
    const fill = all
      .filter((i) => !chosen.has(i))
      .sort((x, y) => best(y) - best(x))
      .slice(0, 2);
    expect(r.items.filter((x) => x.phase === 'fill').map((x) => x.index)).toEqual(fill);
    expect(select(pool, { method: 'cossim', budget: { count: 10 }, reference: { kind: 'categories', centroids }, seed: 99 }).indices).toEqual(r.indices);
  });
  it('selectAsync (onnxruntime scores) selects exactly the same records', async () => {
    for (const method of ['cossim', 'cossim-b'] as const) {
      for (const categories of [undefined, ['b', 'd']]) {
        const opts = { method, budget: { count: 13 }, reference: { kind: 'categories' as const, centroids }, ...(categories ? { categories } : {}) };
        expect((await selectAsync(pool, opts)).indices).toEqual(select(pool, opts).indices);
      }
    }
  });
  it('leaves out categories that have no reference (zero centroid)', () => {
    const some = centroids.slice();
    some.fill(0, 8, 16); // category b: no references
    const r = selectCossim(pool, { budget: { count: 9 }, reference: { kind: 'categories', centroids: some } });
    expect(r.strata).toEqual(['a', 'c', 'd']);
    expect(r.perStratum).toBe(3);
  });
  it('takes at least one per category for tiny budgets', () => {
    const r = selectCossim(pool, { budget: { count: 2 }, reference: { kind: 'categories', centroids } });
    expect(r.perStratum).toBe(1);
    expect(r.indices.length).toBe(2);
  });
  it('against the task data: top-N by mean similarity to the task centroid', () => {
    const task = new Float32Array(8);
    task[2] = 0.5;
    task[3] = 0.5;
    const r = selectCossim(pool, { budget: { count: 7 }, reference: { kind: 'task', centroid: task } });
    const all = Array.from({ length: pool.size }, (_, i) => i);
    const s = (i: number) => 0.5 * (pool.embeddings![i * d + 2]! + pool.embeddings![i * d + 3]!);
    expect(Array.from(r.indices)).toEqual(all.sort((x, y) => s(y) - s(x)).slice(0, 7));
    expect(r.strata).toEqual(['task']);
  });
  it('Cossim-B restricts candidates to T1', () => {
    const r = select(pool, { method: 'cossim-b', budget: { count: 9 }, reference: { kind: 'categories', centroids } });
    for (const i of r.indices) expect(pool.behaviour![i]).toBe(1);
    expect(() => select(pool, { method: 'cossim', budget: { count: 1 } })).toThrow(/needs a reference/);
  });
});

describe('training-mix export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'safetune-mix-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('writes Alpaca and chat JSONL', async () => {
    const rows = [
      { prompt: 'p1 "q"', response: 'r1\nline' },
      { prompt: 'p2', response: 'r2' },
    ];
    expect(JSON.parse(toJsonlLine(rows[0]!, 'alpaca'))).toEqual({ instruction: 'p1 "q"', input: '', output: 'r1\nline' });
    expect(JSON.parse(toJsonlLine(rows[1]!, 'chat', 'sys'))).toEqual({
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'p2' },
        { role: 'assistant', content: 'r2' },
      ],
    });
    const p = join(dir, 'mix.jsonl');
    expect(await writeJsonl(p, rows, 'chat')).toBe(2);
    const lines = readFileSync(p, 'utf8').split('\n');
    expect(lines.length).toBe(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!).messages[0]).toEqual({ role: 'user', content: 'p1 "q"' });
  });
  it('mixes task and safety data deterministically', () => {
    const task = Array.from({ length: 20 }, (_, i) => ({ prompt: `t${i}`, response: 'x' }));
    const safety = Array.from({ length: 3 }, (_, i) => ({ prompt: `s${i}`, response: 'y' }));
    const m = buildTrainingMix(task, safety, { seed: 5 });
    expect(m.length).toBe(23);
    expect(
      m
        .filter((x) => x.source === 'safety')
        .map((x) => x.prompt)
        .sort(),
    ).toEqual(['s0', 's1', 's2']);
    expect(buildTrainingMix(task, safety, { seed: 5 })).toEqual(m);
    expect(m.slice(20).every((x) => x.source === 'safety')).toBe(false);
    expect(
      buildTrainingMix(task, safety, { shuffle: false })
        .slice(20)
        .map((x) => x.prompt),
    ).toEqual(['s0', 's1', 's2']);
  });
});
