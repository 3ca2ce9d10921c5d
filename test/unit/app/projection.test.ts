import { describe, expect, it } from 'vitest';
import { pca2 } from '../../../src/main/embed/projection';

describe('pca2', () => {
  it('recovers the two directions of largest variance', () => {
    // Points spread 10× along e0, 3× along e2, barely along e1, in 3-D.
    const n = 400;
    const m = new Float32Array(n * 3);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (let i = 0; i < n; i++) {
      m[i * 3] = 10 * rnd() + 5;
      m[i * 3 + 1] = 0.1 * rnd();
      m[i * 3 + 2] = 3 * rnd() - 2;
    }
    const { x, y, explained } = pca2(m, 3);
    const corr = (a: Float32Array, k: number) => {
      let sab = 0,
        saa = 0,
        sbb = 0,
        ma = 0,
        mb = 0;
      for (let i = 0; i < n; i++) (ma += a[i]! / n), (mb += m[i * 3 + k]! / n);
      for (let i = 0; i < n; i++) {
        const da = a[i]! - ma,
          db = m[i * 3 + k]! - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
      }
      return Math.abs(sab / Math.sqrt(saa * sbb));
    };
    expect(corr(x, 0)).toBeGreaterThan(0.999);
    expect(corr(y, 2)).toBeGreaterThan(0.999);
    expect(explained[0]).toBeGreaterThan(0.85);
    expect(explained[0] + explained[1]).toBeGreaterThan(0.99);
  });
});
