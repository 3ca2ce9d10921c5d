import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QTYPE, QUANT_BLOCK, QUANTIZABLE, dequantizeBlocks, quantBytes, quantizeRow } from '../../../src/main/engine/gguf/quants';
import { repoRoot } from '../../helpers/shared';

/** Fixtures from test/fixtures/engine/make_quant_fixtures.py: numpy dequantisation (checked against ggml's) and ggml's own quantizer output. */
const DIR = join(repoRoot, 'test', 'fixtures', 'engine', 'quants');
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as {
  types: Record<string, { code: number; blockSize: number; blockBytes: number; dequantElements: number; quantRows?: number; quantRowLength?: number }>;
};
const bytes = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const floats = (f: string) => {
  const b = readFileSync(join(DIR, f));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
/** Bit patterns, so -0 vs 0 and NaN payloads count as differences. */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('ggml block formats', () => {
  it('covers every common GGUF quantisation type with ggml block geometry', () => {
    expect(Object.keys(index.types).sort()).toEqual(Object.keys(QTYPE).sort());
    for (const [name, t] of Object.entries(index.types)) {
      expect(QTYPE[name as keyof typeof QTYPE]).toBe(t.code);
      expect(QUANT_BLOCK[t.code]).toEqual([t.blockSize, t.blockBytes]);
    }
  });

  for (const [name, t] of Object.entries(index.types)) {
    it(`dequantises ${name} bit-exactly (random blocks)`, () => {
      const got = dequantizeBlocks(t.code, bytes(`${name}.deq.bin`), t.dequantElements);
      const want = floats(`${name}.deq.f32`);
      const i = firstDiff(bits(got), bits(want));
      expect(i, i < 0 ? '' : `element ${i}: ${got[i]} vs ${want[i]}`).toBe(-1);
    });
  }

  for (const [name, t] of Object.entries(index.types)) {
    if (!t.quantRows) continue;
    it(`quantises ${name} to the bytes ggml writes (quantize_row_${name.toLowerCase()}_ref)`, () => {
      const x = floats(`${name}.q.f32`);
      const want = bytes(`${name}.q.bin`);
      const row = quantBytes(t.code, t.quantRowLength!);
      for (let r = 0; r < t.quantRows!; r++) {
        const got = quantizeRow(t.code, x.subarray(r * t.quantRowLength!, (r + 1) * t.quantRowLength!));
        const w = want.subarray(r * row, (r + 1) * row);
        const i = firstDiff(got, w);
        expect(i, i < 0 ? '' : `row ${r}, byte ${i} (block ${Math.floor(i / t.blockBytes)}, offset ${i % t.blockBytes}): ${got[i]} vs ${w[i]}`).toBe(-1);
      }
    });
  }

  it('round-trips within the format resolution', () => {
    const x = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * 0.37) * 0.05 + (i % 97 === 0 ? 0.3 : 0));
    const tol: Record<number, number> = {
      [QTYPE.Q8_0]: 0.003,
      [QTYPE.Q6_K]: 0.006,
      [QTYPE.Q5_0]: 0.012,
      [QTYPE.Q5_1]: 0.008,
      [QTYPE.Q5_K]: 0.01,
      [QTYPE.Q4_0]: 0.025,
      [QTYPE.Q4_1]: 0.015,
      [QTYPE.Q4_K]: 0.02,
      [QTYPE.Q3_K]: 0.05,
      [QTYPE.Q2_K]: 0.1,
    };
    for (const type of QUANTIZABLE) {
      const y = dequantizeBlocks(type, quantizeRow(type, x), x.length);
      let err = 0;
      x.forEach((v, i) => (err = Math.max(err, Math.abs(v - y[i]!))));
      expect(err, `type ${type}`).toBeLessThan(tol[type]!);
    }
  });

  it('names the type and the block size when a length does not fit', () => {
    expect(() => quantizeRow(QTYPE.Q4_K, new Float32Array(100))).toThrow(/Q4_K: 100 elements is not a multiple of its block size 256/);
    expect(() => dequantizeBlocks(QTYPE.Q8_0, new Uint8Array(10), 32)).toThrow(/Q8_0: 10 bytes hold fewer than 32 elements/);
    expect(() => quantizeRow(QTYPE.IQ4_NL, new Float32Array(32))).toThrow(/no quantizer for ggml type IQ4_NL/);
  });
});
