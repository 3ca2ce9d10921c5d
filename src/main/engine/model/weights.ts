/**
 * What every weight source gives: tensors in Hugging Face naming ("model.layers.0.self_attn.q_proj.weight",
 * PyTorch [out, in] order), read lazily one tensor at a time. The sources are by file format:
 * hf/safetensors.ts (SafetensorsWeights) and gguf/weights.ts (GgufWeights).
 */
import type { QuantMatrix } from '../gguf/repack';

export interface WeightSource {
  /** for error messages (file or folder) */
  readonly origin: string;
  names(): string[];
  has(name: string): boolean;
  /** PyTorch order */
  shape(name: string): number[];
  /** dequantised / converted float32 data, row-major */
  f32(name: string): Float32Array;
  /** storage dtype name as in the file (F32, F16, BF16, Q8_0...) */
  dtype(name: string): string;
  /**
   * The tensor in onnxruntime's blockwise-quantised layout (MatMulNBits), when it is stored
   * block-quantised (or the source quantises on load); null for float tensors. PyTorch row order.
   */
  quantized?(name: string): QuantMatrix | null;
}
