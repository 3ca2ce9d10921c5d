/**
 * Top-k by magnitude on tensors larger than the sample (the reference fixtures are small enough to
 * be sampled whole): the bracket selector and the radix fallback against a brute-force stable sort,
 * with many ties (fp16-quantised task vectors), mostly zeros, streamed in odd chunks, and a sample
 * the data fools on purpose (the fallback must take over, through TIES itself). A tensor larger
 * than a chunk takes its sample from short spans: read twice in all, merged to the same bits.
 */
import { describe, expect, it } from 'vitest';
import { BufferPool, runTask } from '../../../src/main/merge/chunks';
import { encodeInto, decodeInto } from '../../../src/main/merge/codec';
import type { MergeInput } from '../../../src/main/merge/inputs';
import { BracketSelector, keptCount, RadixSelector, type MagnitudeCut } from '../../../src/main/merge/sparsify';
import { ties } from '../../../src/main/merge/ties';
import type { TensorInputs } from '../../../src/main/merge/types';
import { mulberry32 } from '../../../src/main/util/prng';

/** What a stable descending sort by |τ| keeps: the k-th magnitude, how many of its ties, the kept L1. */
function bruteForce(tv: Float32Array, k: number, order?: number[]): { at: number; ties: number; keptL1: number; mask: Uint8Array } {
  const idx = order ?? stableOrder(tv);
  const mask = new Uint8Array(tv.length);
  let keptL1 = 0;
  for (const i of idx.slice(0, k)) {
    mask[i] = 1;
    keptL1 += Math.abs(tv[i]!);
  }
  const at = Math.abs(tv[idx[k - 1]!]!);
  return { at, ties: idx.slice(0, k).filter((i) => Math.abs(tv[i]!) === at).length, keptL1, mask };
}

function stableOrder(tv: Float32Array): number[] {
  return Array.from(tv.keys()).sort((a, b) => Math.abs(tv[b]!) - Math.abs(tv[a]!) || a - b);
}

const zeros = (n: number) => new Float32Array(n);
const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function f16(v: Float32Array): Float32Array {
  const b = new Uint8Array(v.length * 2);
  encodeInto('F16', v, b);
  const out = new Float32Array(v.length);
  decodeInto('F16', b, v.length, out);
  return out;
}

/** name, task vector, whether the bracket must hold (a tensor of one magnitude overflows it: radix then) */
function cases(): [string, Float32Array, boolean][] {
  const n = 300_001;
  const rand = mulberry32(7);
  const uniform = Float32Array.from({ length: n }, () => rand() - 0.5);
  // fp16 base and fine-tune: the task vector takes few distinct values (many ties)
  const base = f16(Float32Array.from({ length: n }, () => (rand() - 0.5) * 0.04));
  const ft = f16(base.map((x) => x + (rand() - 0.5) * 0.004));
  const quantised = ft.map((x, i) => x - base[i]!);
  const sparse = Float32Array.from({ length: n }, () => (rand() < 0.8 ? 0 : rand() - 0.5));
  const constant = Float32Array.from({ length: n }, (_, i) => (i % 3 ? 0.25 : -0.25));
  return [
    ['uniform', uniform, true],
    ['fp16-quantised', quantised, true],
    ['80% zeros', sparse, true],
    ['one magnitude', constant, false],
  ];
}

function selectBracket(tv: Float32Array, k: number, chunk: number, withL1 = true): MagnitudeCut | null {
  const s = new BracketSelector(k, tv.length, withL1);
  const base = zeros(chunk);
  for (let st = 0; st < tv.length; st += chunk) s.sample(st, tv.subarray(st, st + chunk), base);
  s.endSample();
  for (let st = 0; st < tv.length; st += chunk) s.count(tv.subarray(st, st + chunk), base);
  return s.resolve();
}

function selectRadix(tv: Float32Array, k: number, chunk: number): MagnitudeCut {
  const s = new RadixSelector(k);
  const base = zeros(chunk);
  for (let st = 0; st < tv.length; st += chunk) s.pass1(tv.subarray(st, st + chunk), base);
  s.endPass1();
  for (let st = 0; st < tv.length; st += chunk) s.pass2(tv.subarray(st, st + chunk), base);
  return s.resolve();
}

describe('exact top-k by magnitude', () => {
  for (const [name, tv, bracketHolds] of cases())
    it(`${name}: bracket and radix select agree with a stable sort at several densities, whole and in odd chunks`, () => {
      const order = stableOrder(tv);
      for (const density of [0.05, 0.3, 0.5, 0.9]) {
        const k = keptCount(density, tv.length);
        const want = bruteForce(tv, k, order);
        for (const chunk of [tv.length, 77_777]) {
          const bracket = selectBracket(tv, k, chunk);
          if (!bracketHolds) expect(bracket).toBeNull();
          // without the L1 sums (no rescale) the same cut
          const noL1 = selectBracket(tv, k, chunk, false);
          expect([noL1?.at, noL1?.ties]).toEqual([bracket?.at, bracket?.ties]);
          for (const cut of bracketHolds ? [bracket, selectRadix(tv, k, chunk)] : [selectRadix(tv, k, chunk)]) {
            expect(cut, `${name} ${density}`).not.toBeNull();
            expect(cut!.at).toBe(want.at);
            expect(cut!.ties).toBe(want.ties);
            expect(Math.abs(cut!.keptL1 - want.keptL1) / Math.max(1e-9, want.keptL1)).toBeLessThan(1e-6);
          }
        }
      }
    });

  it('a sample the data fools misses, and TIES falls back to radix select for the exact result', () => {
    const n = 1 << 20;
    const rand = mulberry32(3);
    // the first 32 of every 512 entries (the sample's spans: 2,048 of 32) are large, the rest tiny
    const tv = Float32Array.from({ length: n }, (_, i) => (i % 512 < 32 ? 1 + rand() : (rand() - 0.5) * 1e-3));
    const k = keptCount(0.5, n);
    expect(selectBracket(tv, k, n)).toBeNull();
    const want = bruteForce(tv, k);
    expect(selectRadix(tv, k, n).at).toBe(want.at);
    // through the method: one model, weight 1, normalize: base + the kept task-vector entries
    const base = Float32Array.from({ length: n }, () => rand());
    const model = base.map((b, i) => Math.fround(b + tv[i]!));
    const trueTv = model.map((x, i) => x - base[i]!);
    const mask = bruteForce(trueTv, k).mask;
    for (const chunk of [n, 100_003]) {
      const out = new Float32Array(n);
      const inputs: TensorInputs = {
        name: 'model.layers.0.mlp.up_proj.weight',
        numel: n,
        count: 1,
        forEachChunk(fn) {
          for (let s = 0; s < n; s += chunk) fn(s, base.slice(s, s + chunk), [model.slice(s, s + chunk)]);
        },
        mask: () => new Uint8Array(chunk),
      };
      ties.merge(inputs, { global: { normalize: true, rescale: false, lambda: 1 }, perModel: [{ weight: 1, density: 0.5 }] }, (s, v) => out.set(v, s), 0);
      let wrong = 0;
      for (let i = 0; i < n; i++) if (out[i] !== Math.fround(base[i]! + (mask[i] ? trueTv[i]! : 0))) wrong++;
      expect(wrong, `chunk ${chunk}`).toBe(0);
    }
  });

  it('a tensor larger than a chunk is sampled from short spans: read twice, merged to the same bits as whole', () => {
    const n = 1 << 19;
    const rand = mulberry32(11);
    const base = f16(Float32Array.from({ length: n }, () => (rand() - 0.5) * 0.04));
    const fts = [1, 2].map(() => f16(base.map((x) => x + (rand() - 0.5) * 0.004)));
    let valuesRead = 0;
    const input = (v: Float32Array) =>
      ({
        read(_name: string, start: number, out: Float32Array) {
          out.set(v.subarray(start, start + out.length));
          valuesRead += out.length;
        },
      }) as unknown as MergeInput;
    const merge = (chunkElems: number) => {
      const out = new Float32Array(n);
      const bytes = new Uint8Array(out.buffer);
      const pool = new BufferPool(chunkElems);
      valuesRead = 0;
      runTask(
        {
          hfName: 'model.embed_tokens.weight',
          numel: n,
          params: {
            global: { normalize: true, rescale: false, lambda: 1 },
            perModel: [
              { weight: 1, density: 0.5 },
              { weight: 0.5, density: 0.3 },
            ],
          },
          align: 1,
          bytes: n * 6,
          target: { fd: -1, position: 0, dtype: 'F32', rowLen: 1, outPath: 'test' },
        },
        {
          impl: ties,
          base: input(base),
          models: fts.map(input),
          referencePath: '',
          pool,
          stop: () => {},
          onBytes: () => {},
          writeFn: (_fd, buf, off, len, pos) => (bytes.set(buf.subarray(off, off + len), pos), len),
        },
      );
      pool.release();
      return { out, perInput: valuesRead / 3 };
    };
    const whole = merge(n);
    expect(whole.perInput).toBe(n); // one chunk: read once for every pass
    const chunked = merge(100_003);
    // a counting pass and the merging pass, and the spans' 65,536 samples (not a third pass)
    expect(chunked.perInput).toBe(2 * n + 65_536);
    const [a, b] = [bitsOf(chunked.out), bitsOf(whole.out)];
    let differ = 0;
    for (let i = 0; i < n; i++) differ += a[i] === b[i] ? 0 : 1;
    expect(differ).toBe(0);
  });
});
