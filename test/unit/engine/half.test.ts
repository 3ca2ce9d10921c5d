import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBf16Bits, float32ToHalfBits, floatToHalf, halfBitsToFloat32, halfToFloat } from '../../../src/main/engine/half';
import { SafetensorsFile, writeSafetensors } from '../../../src/main/engine/hf/safetensors';

const tmp = mkdtempSync(join(tmpdir(), 'safetune-half-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

/** Every finite half, the ties between neighbours and one float32 ulp either side of each tie. */
function halfEdges(): Float32Array {
  const out: number[] = [];
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 0x7c00; h++) {
    const a = halfToFloat(h);
    const b = halfToFloat(h + 1);
    f[0] = (a + b) / 2;
    const tie = u[0]!;
    for (const s of [1, -1]) out.push(s * a, s * f[0]!);
    for (const bits of [tie - 1, tie + 1, tie | 0x80000000]) {
      u[0] = bits >>> 0;
      out.push(f[0]!);
    }
  }
  return Float32Array.from(out);
}

describe('half-precision conversions (engine/half.ts)', () => {
  it('float32ToHalfBits (bulk) equals floatToHalf on every half, every tie and its neighbours, and the specials', () => {
    const specials = Float32Array.of(0, -0, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, -65520, 1e-8, 2 ** -25, 2 ** -24, 3e38, -1e-45);
    let seed = 1;
    const random = Float32Array.from({ length: 200_000 }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed / 2 ** 32 - 0.5) * 2 ** ((seed % 60) - 30);
    });
    for (const vals of [halfEdges(), specials, random]) {
      const bulk = float32ToHalfBits(vals, new Uint16Array(vals.length));
      const mismatch = Array.from(vals).findIndex((v, i) => bulk[i] !== floatToHalf(v));
      expect(mismatch, `first mismatch at ${vals[mismatch]}`).toBe(-1);
    }
    expect(Array.from(float32ToHalfBits(Float32Array.of(65520, NaN, 2 ** -25), new Uint16Array(3)))).toEqual([0x7c00, 0x7e00, 0]);
  });

  it('every half survives half → float32 → half, through the table and one by one', () => {
    const bits = Uint16Array.from({ length: 0x7c00 }, (_, i) => i);
    const f = halfBitsToFloat32(bits);
    expect(Array.from(f).every((v, i) => v === halfToFloat(i))).toBe(true);
    expect(Array.from(float32ToHalfBits(f, new Uint16Array(f.length)))).toEqual(Array.from(bits));
  });

  it('bfloat16 rounds to nearest even and keeps every NaN a NaN', () => {
    const v = fromBits([0x3f808000, 0x3f818000, 0x3f808001, 0x7f800001, 0xffffffff, 0x7fc00000, 0xff800000]);
    const b = float32ToBf16Bits(v, new Uint16Array(v.length));
    expect(Array.from(b.subarray(0, 3))).toEqual([0x3f80, 0x3f82, 0x3f81]);
    const back = bf16BitsToFloat32(b);
    expect([Number.isNaN(back[3]!), Number.isNaN(back[4]!), Number.isNaN(back[5]!), back[6]]).toEqual([true, true, true, -Infinity]);
  });

  it('a safetensors BF16 tensor written with NaN reads back NaN (it used to become 0 or ±inf)', () => {
    const p = join(tmp, 'nan.safetensors');
    const a = fromBits([0xffffffff, 0x7f800001, 0x40490fdb]);
    writeSafetensors(p, [
      { name: 'bf16', shape: [3], dtype: 'BF16', data: () => a },
      { name: 'f16', shape: [3], dtype: 'F16', data: () => a },
    ]);
    const f = new SafetensorsFile(p);
    for (const name of ['bf16', 'f16']) {
      const r = f.readF32(name);
      expect([Number.isNaN(r[0]!), Number.isNaN(r[1]!), Math.abs(r[2]! - Math.PI) < 1e-2], name).toEqual([true, true, true]);
    }
  });
});
