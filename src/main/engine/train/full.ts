/**
 * Full-parameter training: which of the model's weights train (all, or groups such as attention,
 * MLP, embeddings, norms, LM head), and their values (fp32 copies of the model's weights, in Hugging
 * Face naming). The trainer feeds them to the training graph as inputs and updates them with AdamW.
 *
 * Tied embeddings are one parameter: the embedding matrix is both the input table and the LM head,
 * so training either trains it, and its gradient is the sum of both uses (the graph reads the one
 * input twice).
 */
import type { DecoderConfig } from '../model/config';
import { expectedWeightShapes } from '../model/decoderGraph';
import type { WeightSource } from '../model/weights';

/** Weight groups: `all`, `attention` (q, k, v, o and their biases), `mlp` (gate, up, down), `embeddings`, `norms` (every RMSNorm weight), `lm_head`, or one projection (q, k, v, o, gate, up, down). */
export type TrainableGroup = 'all' | 'attention' | 'mlp' | 'embeddings' | 'norms' | 'lm_head' | 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

export const TRAINABLE_GROUPS: readonly TrainableGroup[] = [
  'all',
  'attention',
  'mlp',
  'embeddings',
  'norms',
  'lm_head',
  'q',
  'k',
  'v',
  'o',
  'gate',
  'up',
  'down',
];

export interface FullTrainingConfig {
  /** the weights that train (default ['all']); the others stay frozen */
  trainable?: TrainableGroup[];
  /** only these decoder layers' weights (default all); embeddings, the final norm and the LM head are outside the layers */
  layers?: number[];
}

export interface TrainableWeight {
  /** Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight */
  name: string;
  /** PyTorch order */
  shape: number[];
  size: number;
}

/** The trained weights: fp32 values by name, in `weights` order. */
export interface FullParams {
  weights: TrainableWeight[];
  tensors: Map<string, Float32Array>;
}

export class FullTrainingConfigError extends Error {}

const PROJECTION: Record<string, RegExp> = {
  q: /\.self_attn\.q_proj\.(weight|bias)$/,
  k: /\.self_attn\.k_proj\.(weight|bias)$/,
  v: /\.self_attn\.v_proj\.(weight|bias)$/,
  o: /\.self_attn\.o_proj\.(weight|bias)$/,
  gate: /\.mlp\.gate_proj\.weight$/,
  up: /\.mlp\.up_proj\.weight$/,
  down: /\.mlp\.down_proj\.weight$/,
};

/** whether weight `name` of a model with this config belongs to `group` */
function inGroup(cfg: DecoderConfig, name: string, group: TrainableGroup): boolean {
  const head = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  switch (group) {
    case 'all':
      return true;
    case 'attention':
      return /\.self_attn\./.test(name);
    case 'mlp':
      return /\.mlp\./.test(name);
    case 'embeddings':
      return name === 'model.embed_tokens.weight';
    case 'norms':
      return /(layernorm|_norm|^model\.norm)\.weight$/.test(name);
    case 'lm_head':
      return name === head;
    default:
      return PROJECTION[group]!.test(name);
  }
}

/** decoder layer of a weight name, or null outside the layers */
function layerOf(name: string): number | null {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

/** Resolve the trainable weights of a model (in the model's weight order); names a group or layer that does not exist. */
export function resolveTrainableWeights(cfg: DecoderConfig, c: FullTrainingConfig = {}): TrainableWeight[] {
  const groups = c.trainable ?? ['all'];
  if (groups.length === 0) throw new FullTrainingConfigError('full-parameter training needs at least one trainable group');
  for (const g of groups)
    if (!TRAINABLE_GROUPS.includes(g)) throw new FullTrainingConfigError(`unknown trainable group "${String(g)}" (known: ${TRAINABLE_GROUPS.join(', ')})`);
  const layers = c.layers ? new Set(c.layers) : null;
  for (const l of c.layers ?? [])
    if (!Number.isInteger(l) || l < 0 || l >= cfg.numLayers)
      throw new FullTrainingConfigError(`layer ${l} does not exist (the model has ${cfg.numLayers} layers)`);
  const out: TrainableWeight[] = [];
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    const l = layerOf(name);
    if (layers && l !== null && !layers.has(l)) continue;
    if (!groups.some((g) => inGroup(cfg, name, g))) continue;
    out.push({ name, shape, size: shape.reduce((a, b) => a * b, 1) });
  }
  if (out.length === 0)
    throw new FullTrainingConfigError(
      `no weight of this ${cfg.architecture} model is in ${groups.join(', ')}${c.layers ? ` in layers ${c.layers.join(', ')}` : ''}`,
    );
  return out;
}

/** The trainable weights' starting values: fp32 copies read from the model's weight source. */
export function initFullParams(weights: TrainableWeight[], src: WeightSource): FullParams {
  const tensors = new Map<string, Float32Array>();
  for (const w of weights) {
    const d = src.f32(w.name);
    if (d.length !== w.size) throw new Error(`${src.origin}: ${w.name} has ${d.length} values, expected ${w.size}`);
    // a copy: the trainer updates it in place, and a source may hand out its own buffer
    tensors.set(w.name, Float32Array.from(d));
  }
  return { weights, tensors };
}

/** Number of trainable values. */
export function trainableParameterCount(weights: TrainableWeight[]): number {
  return weights.reduce((s, w) => s + w.size, 0);
}

/**
 * The model's weight source with the trained values in place of the original ones (no copies: the
 * trained tensors are handed out as they are, so callers must not modify them).
 */
export function overlayWeights(src: WeightSource, trained: Map<string, Float32Array>): WeightSource {
  return {
    origin: src.origin,
    names: () => src.names(),
    has: (n) => trained.has(n) || src.has(n),
    shape: (n) => src.shape(n),
    f32: (n) => trained.get(n) ?? src.f32(n),
    dtype: (n) => (trained.has(n) ? 'F32' : src.dtype(n)),
  };
}
