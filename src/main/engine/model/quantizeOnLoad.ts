/**
 * Quantise-on-load: a weight source whose float projection, embedding and LM-head matrices (from
 * a Hugging Face folder's fp16/bf16/fp32 safetensors or an F32/F16 GGUF) are quantised with ggml's
 * reference quantizer when the graph is built, so they run quantised (MatMulNBits) like a quantised
 * GGUF. Tensors the source already holds block-quantised keep their own form; matrices whose row
 * length is not a whole number of the type's blocks stay float32.
 */
import { GGML_TYPE } from '../gguf/reader';
import { quantizeRow, QUANT_BLOCK, QUANTIZABLE } from '../gguf/quants';
import { repackMatrix, type QuantMatrix } from '../gguf/repack';
import type { WeightSource } from './weights';

export type LoadQuantType = 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K';

/** 2-D matrices the decoder graph multiplies or gathers (biases and norms stay float32). */
const MATRIX = /(^model\.embed_tokens\.weight$|^lm_head\.weight$|_proj\.weight$)/;

export class QuantizingWeights implements WeightSource {
  readonly origin: string;
  private readonly type: number;
  constructor(
    private readonly src: WeightSource,
    type: LoadQuantType,
  ) {
    this.type = GGML_TYPE[type];
    if (!QUANTIZABLE.includes(this.type)) throw new Error(`cannot quantise on load to ${type}`);
    this.origin = src.origin;
  }
  names(): string[] {
    return this.src.names();
  }
  has(name: string): boolean {
    return this.src.has(name);
  }
  shape(name: string): number[] {
    return this.src.shape(name);
  }
  dtype(name: string): string {
    return this.src.dtype(name);
  }
  f32(name: string): Float32Array {
    return this.src.f32(name);
  }
  quantized(name: string): QuantMatrix | null {
    const own = this.src.quantized?.(name);
    if (own) return own;
    const shape = this.src.shape(name);
    if (!MATRIX.test(name) || shape.length !== 2 || shape[1]! % QUANT_BLOCK[this.type]![0]) return null;
    const [rows, cols] = shape as [number, number];
    return repackMatrix(this.type, quantizeRow(this.type, this.src.f32(name)), rows, cols);
  }
}
