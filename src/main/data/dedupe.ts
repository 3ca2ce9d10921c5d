/**
 * Duplicate detection. Exact duplicates: same contentHash (see formats.ts). Near duplicates:
 * MinHash signatures over word shingles with LSH banding, candidates verified by the signature
 * agreement (an unbiased estimate of Jaccard similarity of the shingle sets).
 *
 * Signatures live in one Uint32Array (rows × numHashes); no per-pair objects are built except
 * for LSH bucket hits.
 */
import { normaliseText } from './formats';

export interface MinHashOptions {
  /** Words per shingle (default 3; texts shorter than this use their whole word list). */
  shingle?: number;
  /** Hash functions (default 128). Must be divisible by bands. */
  numHashes?: number;
  /** LSH bands (default 32: rows per band = numHashes / bands). */
  bands?: number;
  seed?: number;
}

const fmix32 = (h: number): number => {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32. */
export function hashString32(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Lower-cased word tokens (letters/digits), after the canonical normalisation. */
export function words(text: string): string[] {
  return (
    normaliseText(text)
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

export function shingleHashes(text: string, k = 3): Uint32Array {
  const w = words(text);
  if (w.length === 0) return new Uint32Array(0);
  const n = Math.max(1, w.length - k + 1);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = hashString32(w.slice(i, i + k).join(' '));
  return out;
}

export class MinHasher {
  readonly numHashes: number;
  readonly bands: number;
  readonly shingle: number;
  private readonly seeds: Uint32Array;

  constructor(opts: MinHashOptions = {}) {
    this.numHashes = opts.numHashes ?? 128;
    this.bands = opts.bands ?? 32;
    this.shingle = opts.shingle ?? 3;
    if (this.numHashes % this.bands !== 0) throw new Error('numHashes must be divisible by bands');
    this.seeds = new Uint32Array(this.numHashes);
    let s = (opts.seed ?? 0x9e3779b9) >>> 0;
    for (let i = 0; i < this.numHashes; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      this.seeds[i] = fmix32(s);
    }
  }

  /** Write the signature of `text` into `out` at row `row`. Empty texts get all 0xffffffff. */
  signInto(text: string, out: Uint32Array, row: number): void {
    const sh = shingleHashes(text, this.shingle);
    const o = row * this.numHashes;
    for (let j = 0; j < this.numHashes; j++) {
      const seed = this.seeds[j]!;
      let min = 0xffffffff;
      for (let i = 0; i < sh.length; i++) {
        const v = fmix32((sh[i]! ^ seed) >>> 0);
        if (v < min) min = v;
      }
      out[o + j] = min;
    }
  }

  sign(texts: readonly string[]): Uint32Array {
    const out = new Uint32Array(texts.length * this.numHashes);
    for (let r = 0; r < texts.length; r++) this.signInto(texts[r]!, out, r);
    return out;
  }

  /** Fraction of agreeing signature slots between rows a and b. */
  similarity(sig: Uint32Array, a: number, b: number): number {
    const h = this.numHashes;
    let eq = 0;
    for (let j = 0; j < h; j++) if (sig[a * h + j] === sig[b * h + j]) eq++;
    return eq / h;
  }
}

const MAX_LEADERS = 32;

export interface NearDuplicateResult {
  /** For each row, the index of its cluster's representative (the lowest row index in it). */
  representative: Int32Array;
  /** Clusters with more than one member, members ascending. */
  groups: number[][];
  /** Verified pairs [a, b, estimated Jaccard] (a < b) that joined clusters (not every similar pair). */
  pairs: Array<[number, number, number]>;
}

/**
 * Near-duplicate clusters among texts: pairs whose estimated Jaccard similarity of word shingles
 * is >= threshold (default 0.8), joined transitively.
 */
export function findNearDuplicates(texts: readonly string[], opts: MinHashOptions & { threshold?: number } = {}): NearDuplicateResult {
  const mh = new MinHasher(opts);
  const threshold = opts.threshold ?? 0.8;
  const sig = mh.sign(texts);
  const n = texts.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const rowsPerBand = mh.numHashes / mh.bands;
  const seen = new Set<number>(); // a * n + b (exact below 2^53), pairs already verified
  const pairs: Array<[number, number, number]> = [];
  const h = mh.numHashes;
  for (let band = 0; band < mh.bands; band++) {
    const buckets = new Map<number, number[]>();
    for (let r = 0; r < n; r++) {
      if (sig[r * h] === 0xffffffff) continue; // empty text
      let key = band;
      for (let j = band * rowsPerBand; j < (band + 1) * rowsPerBand; j++) key = fmix32((key ^ sig[r * h + j]!) >>> 0) ^ Math.imul(key, 31);
      const b = buckets.get(key);
      if (b) b.push(r);
      else buckets.set(key, [r]);
    }
    for (const members of buckets.values()) {
      if (members.length < 2) continue;
      // Compare each member with the bucket's leaders (members that matched no earlier leader),
      // at most MAX_LEADERS of them: linear in the bucket size even when a bucket is huge.
      const leaders: number[] = [members[0]!];
      for (let x = 1; x < members.length; x++) {
        const b = members[x]!;
        let matched = false;
        for (const a of leaders) {
          const id = a * n + b;
          if (seen.has(id)) continue;
          seen.add(id);
          const s = mh.similarity(sig, a, b);
          if (s >= threshold) {
            pairs.push([a, b, s]);
            const ra = find(a);
            const rb = find(b);
            if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
            matched = true;
            break;
          }
        }
        if (!matched && leaders.length < MAX_LEADERS) leaders.push(b);
      }
    }
  }
  const representative = new Int32Array(n);
  const groupsMap = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    representative[i] = r;
    const g = groupsMap.get(r);
    if (g) g.push(i);
    else groupsMap.set(r, [i]);
  }
  const groups = [...groupsMap.values()].filter((g) => g.length > 1);
  pairs.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  return { representative, groups, pairs };
}

/** Exact duplicates by contentHash: for each index, the first index with the same hash. */
export function exactDuplicates(hashes: readonly string[]): Int32Array {
  const first = new Map<string, number>();
  const out = new Int32Array(hashes.length);
  hashes.forEach((h, i) => {
    const f = first.get(h);
    if (f === undefined) {
      first.set(h, i);
      out[i] = i;
    } else out[i] = f;
  });
  return out;
}
