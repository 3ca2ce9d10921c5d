/**
 * The frozen base of a LoRA run quantised on load (QLoRA-style): the ggml block type of each row of
 * the shared BASE_QUANTS table (src/shared/train.ts), and what the quantised matrices take in
 * memory. The trainer wraps the model's weights in QuantizingWeights (model/quantizeOnLoad.ts) and
 * builds its plain-op graph with `quant`, which dequantises each frozen matrix to float32 where it
 * is used.
 */
import type { BaseQuant } from '../../../shared/train';
import { GGML_TYPE } from '../gguf/reader';
import { QUANT_BLOCK } from '../gguf/quants';
import { canRepack, repackedBytes } from '../gguf/repack';
import type { DecoderConfig } from '../model/config';
import { expectedWeightShapes } from '../model/decoderGraph';
import type { LoadQuantType } from '../model/quantizeOnLoad';
import type { WeightSource } from '../model/weights';

/** The ggml type each row quantises to (null: the weights stay as they are). */
export const BASE_QUANT_TYPES = {
  none: null,
  q8_0: 'Q8_0',
  q4_0: 'Q4_0',
  q4_k: 'Q4_K',
} as const satisfies Record<BaseQuant, LoadQuantType | null>;

/** The matrices quantise-on-load quantises (model/quantizeOnLoad.ts): projections, embeddings, LM head. */
const MATRIX = /(^model\.embed_tokens\.weight$|^lm_head\.weight$|_proj\.weight$)/;

export interface QuantizedFrozenWeights {
  /** bytes of the quantised matrices (codes, scales, zero points, residual minimums) */
  bytes: number;
  /** parameters they hold */
  params: number;
  /** of them, projection parameters (q, k, v, o, gate, up, down) */
  projectionParams: number;
  /** whether the LM head (or the tied embedding that serves as it) is quantised */
  head: boolean;
}

/**
 * The ggml block types of the tensors a file already holds block-quantised (a quantised GGUF's),
 * by Hugging Face name: quantise-on-load keeps those as they are.
 */
export function storedBlockTypes(tensors: Iterable<readonly [name: string | null, ggmlType: number | undefined]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, type] of tensors) if (name && type !== undefined && QUANT_BLOCK[type] && canRepack(type)) out.set(name, type);
  return out;
}

/** storedBlockTypes of a loaded model's weights (their dtype names: "Q4_K", "F32" …). */
export function storedBlockTypesOf(weights: WeightSource): Map<string, number> {
  return storedBlockTypes(weights.names().map((n) => [n, (GGML_TYPE as Record<string, number>)[weights.dtype(n)]] as const));
}

/**
 * Which of a model's frozen matrices quantise-on-load to `type` quantises (those whose row length
 * is a whole number of the type's blocks; those the file holds block-quantised, `stored`, keep
 * their own type) and their size in onnxruntime's blockwise layout. `trained` weights
 * (full-parameter training) are graph inputs and stay float32.
 */
export function quantizedFrozenWeights(
  cfg: DecoderConfig,
  type: LoadQuantType,
  trained: ReadonlySet<string> = new Set(),
  stored: ReadonlyMap<string, number> = new Map(),
): QuantizedFrozenWeights {
  const code = GGML_TYPE[type];
  const block = QUANT_BLOCK[code]![0];
  const out: QuantizedFrozenWeights = { bytes: 0, params: 0, projectionParams: 0, head: false };
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    const own = stored.get(name);
    if (!MATRIX.test(name) || shape.length !== 2 || trained.has(name) || (own === undefined && shape[1]! % block)) continue;
    const n = shape[0]! * shape[1]!;
    out.bytes += repackedBytes(own ?? code, shape[0]!, shape[1]!);
    out.params += n;
    if (name.endsWith('_proj.weight')) out.projectionParams += n;
    if (name === 'lm_head.weight' || (cfg.tieWordEmbeddings && name === 'model.embed_tokens.weight')) out.head = true;
  }
  return out;
}
